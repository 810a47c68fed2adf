/**
 * The configuration keys, each declared once with its type, validator, defaults and doc ({@link
 * dev.distill.deploy.config.ConfigKeys}, as Kafka's ConfigDef), and the conf files generated from
 * them.
 */
package dev.distill.deploy.config;
