/**
 * A teacher behind an HTTP endpoint: our soft-labels API or an OpenAI-compatible server's echoed
 * top log-probabilities, re-tempered to the run's T, with retries and exact token mapping.
 */
package dev.distill.teacher.remote;
