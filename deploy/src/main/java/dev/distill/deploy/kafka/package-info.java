/** A single-node KRaft broker in a child JVM, bound to loopback, for runs without a cluster. */
package dev.distill.deploy.kafka;
