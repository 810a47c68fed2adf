/**
 * The teacher's HTTP API on the JDK server: one transport for auth, body limits, admission,
 * overload and error mapping, and one handler per endpoint (soft labels, OpenAI-compatible
 * completions and chat completions, probes, metrics) with typed request and response records.
 */
package dev.distill.teacher.http;
