/**
 * Training wiring that needs more than one module: {@code HttpOnPolicyTeacher} lets on-policy
 * distillation in the student trainer score its samples with the teacher service over HTTP.
 */
package dev.distill.deploy.training;
