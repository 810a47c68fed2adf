package dev.distill.trainer.training;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * The training JVM of {@link ResumeAfterKillIT}: trains a small GPT with dropout for {@code steps}
 * steps, checkpointing every {@code every}, appending {@code step loss} (the float's exact bits) to
 * a file after every step, sleeping {@code sleepMs} per step so the parent can kill it mid-run.
 *
 * <p>Args: checkpointDir lossesFile steps every resume(true|false) sleepMs
 */
public final class ResumeChild {
  static final String TEXT =
      "to be or not to be, that is the question: whether 'tis nobler in the mind to suffer. "
          .repeat(30);

  private ResumeChild() {}

  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0]);
    Path losses = Path.of(args[1]);
    int steps = Integer.parseInt(args[2]);
    int every = Integer.parseInt(args[3]);
    boolean resume = Boolean.parseBoolean(args[4]);
    long sleepMs = Long.parseLong(args[5]);
    CharTokenizer tok = CharTokenizer.fromCorpus(TEXT);
    int[] ids = tok.encode(TEXT);
    TrainConfig tc =
        TrainConfig.builder(steps, 4, 3e-3f)
            .warmupSteps(3)
            .weightDecay(0.1f)
            .evaluation(5, 1)
            .seed(7)
            .build();
    try (LanguageModel lm =
            LanguageModel.create(new GptConfig(tok.vocabSize(), 16, 1, 2, 32, 0.1f), tok, 7);
        PrintWriter out =
            new PrintWriter(
                Files.newBufferedWriter(
                    losses,
                    StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND))) {
      TrainingLoop.run(
          lm,
          new TextWindows(ids, 16, 4),
          new TextWindows(ids, 16, 4),
          tc,
          (step, total, loss, val, tps) -> {
            out.println(step + " " + Double.doubleToLongBits(loss) + " " + loss);
            out.flush();
            if (sleepMs > 0) {
              try {
                Thread.sleep(sleepMs);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
          },
          new Checkpointing(dir, every, 2, resume, Map.of("test", "resume")));
    }
  }
}
