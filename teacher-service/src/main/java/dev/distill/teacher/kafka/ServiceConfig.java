package dev.distill.teacher.kafka;

import java.time.Duration;
import java.util.Map;

/**
 * Service mode: where prompts come from and outputs go, and how work is batched and retried.
 *
 * @param bootstrapServers the brokers
 * @param groupId consumer group; instances in one group split the partitions
 * @param transactionalId unique per instance (fencing of zombies is by the group's generation,
 *     KIP-447)
 * @param promptsTopic e.g. distill.prompts
 * @param outputsTopic e.g. distill.teacher-outputs
 * @param dlqTopic e.g. distill.prompts.dlq
 * @param tokenBudget dynamic batching: tokens per teacher batch
 * @param maxWait dynamic batching: longest wait for a batch to fill after its first prompt
 * @param chunkPositions most positions per output record (keeps records under the size limit)
 * @param maxPromptTokens longer prompts go to the DLQ
 * @param retries teacher retries before a prompt goes to the DLQ
 * @param backoff first retry delay (doubled per retry, with jitter)
 * @param clientOverrides extra client properties (security settings pass through here)
 */
public record ServiceConfig(
    String bootstrapServers,
    String groupId,
    String transactionalId,
    String promptsTopic,
    String outputsTopic,
    String dlqTopic,
    int tokenBudget,
    Duration maxWait,
    int chunkPositions,
    int maxPromptTokens,
    int retries,
    Duration backoff,
    Map<String, String> clientOverrides) {
  public ServiceConfig {
    for (String s :
        new String[] {
          bootstrapServers, groupId, transactionalId, promptsTopic, outputsTopic, dlqTopic
        }) {
      if (s == null || s.isBlank()) {
        throw new IllegalArgumentException(
            "bootstrapServers, groupId, transactionalId and the three topics are required");
      }
    }
    if (tokenBudget < 1 || chunkPositions < 1 || maxPromptTokens < 2 || retries < 0) {
      throw new IllegalArgumentException(
          "tokenBudget and chunkPositions >= 1, maxPromptTokens >= 2, retries >= 0 needed");
    }
    if (maxWait.isNegative() || backoff.isNegative()) {
      throw new IllegalArgumentException("maxWait and backoff must be >= 0");
    }
    clientOverrides = Map.copyOf(clientOverrides);
  }

  @Override
  public String toString() {
    // Client overrides carry SASL/SSL passwords: print their keys only.
    return "ServiceConfig[bootstrapServers="
        + bootstrapServers
        + ", groupId="
        + groupId
        + ", transactionalId="
        + transactionalId
        + ", promptsTopic="
        + promptsTopic
        + ", outputsTopic="
        + outputsTopic
        + ", dlqTopic="
        + dlqTopic
        + ", tokenBudget="
        + tokenBudget
        + ", maxWait="
        + maxWait
        + ", chunkPositions="
        + chunkPositions
        + ", maxPromptTokens="
        + maxPromptTokens
        + ", retries="
        + retries
        + ", backoff="
        + backoff
        + ", clientOverrides="
        + clientOverrides.keySet()
        + "]";
  }
}
