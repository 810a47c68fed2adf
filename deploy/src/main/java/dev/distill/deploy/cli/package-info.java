/**
 * The {@code distill} command line (picocli): one subcommand per entry point, failures printed as
 * one plain line (the stack trace with {@code --verbose}).
 */
package dev.distill.deploy.cli;
