/**
 * {@code distill demo} in one process: the workloads' stages (label, curate, train, evaluate), each
 * returning a record, and the run's report in JSON, HTML and on the console.
 */
package dev.distill.deploy.pipeline;
