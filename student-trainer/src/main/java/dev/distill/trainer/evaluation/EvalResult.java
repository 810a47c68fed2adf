package dev.distill.trainer.evaluation;

/**
 * One model measured on held-out text against its teacher.
 *
 * @param name model name, e.g. "teacher", "kd-student"
 * @param params parameter count
 * @param valLoss cross-entropy of the true next token, nats per token
 * @param top1Agreement share of positions where argmax matches the teacher's argmax
 * @param klTeacherStudent mean KL(teacher || model) over the full vocabulary at T = 1
 * @param reverseKl mean KL(model || teacher) at T = 1
 * @param jsd mean generalized JSD(beta = 0.5) between teacher and model at T = 1
 * @param bytesOnDisk size of the model's checkpoint folder
 * @param calibration top-1 confidence against accuracy on the true next token
 */
public record EvalResult(
    String name,
    long params,
    double valLoss,
    double top1Agreement,
    double klTeacherStudent,
    double reverseKl,
    double jsd,
    long bytesOnDisk,
    Calibration calibration) {
  public double perplexity() {
    return Math.exp(valLoss);
  }
}
