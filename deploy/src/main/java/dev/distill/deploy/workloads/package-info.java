/** Synthetic workloads with known answers (arithmetic with step-by-step solutions). */
package dev.distill.deploy.workloads;
