/** The teacher service's Micrometer metrics, scraped as Prometheus text at {@code /metrics}. */
package dev.distill.teacher.service;
