package dev.distill.deploy.workloads;

import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.teacher.inference.LabeledSequence;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.SoftLabeler;
import dev.distill.trainer.data.Example;
import dev.distill.trainer.evaluation.ReasoningEvaluator;
import dev.distill.trainer.loss.DistillationLoss;
import dev.distill.trainer.training.SoftLabelBatches;
import dev.distill.trainer.training.TextWindows;
import dev.distill.trainer.training.TrainConfig;
import dev.distill.trainer.training.TrainingLoop;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Not a test: run by hand with -Dtest=ArithmeticStudentExperiment. */
class ArithmeticStudentExperiment {
  @Test
  void run() {
    int tSteps = Integer.getInteger("tsteps", 3000);
    int sSteps = Integer.getInteger("ssteps", 3000);
    int sEmbd = Integer.getInteger("sembd", 80);
    int labelled = Integer.getInteger("labelled", 3000);
    List<ArithmeticTask.Problem> train =
        ArithmeticTask.generate(1, 60000, 1, 3, List.of("+", "-", "*"));
    StringBuilder sb = new StringBuilder();
    for (ArithmeticTask.Problem p : train) {
      sb.append(p.text());
    }
    CharTokenizer tok = CharTokenizer.fromCorpus("0123456789+-*=\nAbc. ");
    int[] ids = tok.encode(sb.toString());
    GptConfig tc = new GptConfig(tok.vocabSize(), 64, 4, 4, 128, 0f);
    List<ReasoningEvaluator.Task> tasks = new ArrayList<>();
    for (ArithmeticTask.Problem p : ArithmeticTask.generate(103, 100, 3, 3, List.of("+"))) {
      tasks.add(new ReasoningEvaluator.Task(p.prompt(), Long.toString(p.answer()), "add3"));
    }
    ReasoningEvaluator ev =
        new ReasoningEvaluator(
            tasks, ".\n", ArithmeticTask.ANSWER, "A ", ArithmeticTask::answerFromRationale, 60);
    try (LanguageModel teacher = LanguageModel.create(tc, tok, 1)) {
      TrainingLoop.run(
          teacher,
          new TextWindows(ids, 64, 24),
          new TextWindows(ids, 64, 24),
          new TrainConfig(tSteps, 24, 2e-3f, 100, 2e-4f, 0.01f, 1f, 0, 2, 1),
          (s, t, l, v, r) -> {});
      System.out.println(
          "teacher " + ev.evaluate("teacher", teacher) + " params " + tc.parameterCount());
      SoftLabeler labeler = new SoftLabeler(teacher, new LabelingConfig(8, 2f, 64));
      List<Example> ex = new ArrayList<>();
      List<ArithmeticTask.Problem> sub = train.subList(0, labelled);
      for (ArithmeticTask.Problem p : sub) {
        int[] seq = tok.encode(".\n" + p.text());
        LabeledSequence ls = labeler.label(List.of(seq)).get(0);
        ex.add(new Example(p.prompt(), seq, ls.labels(), 1f));
      }
      GptConfig sc = new GptConfig(tok.vocabSize(), 64, 2, 4, sEmbd, 0f);
      System.out.println(
          "student params "
              + sc.parameterCount()
              + " ratio "
              + (double) sc.parameterCount() / tc.parameterCount());
      TrainConfig stc = new TrainConfig(sSteps, 32, 3e-3f, 100, 3e-4f, 0.01f, 1f, 0, 2, 1);
      try (LanguageModel kd = LanguageModel.create(sc, tok, 2)) {
        TrainingLoop.run(
            kd,
            new SoftLabelBatches(ex, 32, new DistillationLoss(0.5f, 2f, false)),
            new SoftLabelBatches(ex, 32, new DistillationLoss(0.5f, 2f, false)),
            stc,
            (s, t, l, v, r) -> {});
        System.out.println("kd-rationale " + ev.evaluate("kd", kd));
      }
      try (LanguageModel hard = LanguageModel.create(sc, tok, 2)) {
        TrainingLoop.run(
            hard,
            new SoftLabelBatches(ex, 32, new DistillationLoss(0f, 2f, false)),
            new SoftLabelBatches(ex, 32, new DistillationLoss(0f, 2f, false)),
            stc,
            (s, t, l, v, r) -> {});
        System.out.println("hard-rationale " + ev.evaluate("hard", hard));
      }
    }
  }
}
