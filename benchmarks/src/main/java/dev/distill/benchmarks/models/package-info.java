/**
 * Benchmarks that print numbers (never timed tests); each is listed with its command, what it
 * compares and its last numbers in benchmarks/README.md.
 */
package dev.distill.benchmarks.models;
