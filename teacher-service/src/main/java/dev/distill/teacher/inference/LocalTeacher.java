package dev.distill.teacher.inference;

import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.schemas.avro.Provenance;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * An in-process DJL teacher on a {@link LanguageModel} (our GPT, or a Hugging Face family loaded by
 * {@code models}' {@code HfModels}): exact soft labels, rationales and text generation as every
 * {@link InProcessTeacher}. The model's ids are its tokenizer's, [0, {@code vocabSize}): a padded
 * embedding's extra rows are never labelled or sampled ({@link LanguageModel#logits} drops them).
 */
public final class LocalTeacher extends InProcessTeacher {
  private final LanguageModel model;
  private final InProcessModel lm;
  private final SoftLabeler labeler;
  private final Provenance provenance;
  private final Set<Integer> endTokenIds;

  /** A teacher identified by the sha256 of its parameters (our checkpoints). */
  public LocalTeacher(String teacherId, LanguageModel model, LabelingConfig config) {
    this(model, config, TeacherIdentity.provenance(teacherId, model, config), Set.of());
  }

  /**
   * A teacher with the given provenance (e.g. a Hugging Face folder identified by its files: {@link
   * TeacherSources}) whose generations also end at {@code extraEndTokenIds} (the model's {@code
   * generation_config.json}).
   */
  public LocalTeacher(
      LanguageModel model,
      LabelingConfig config,
      Provenance provenance,
      Set<Integer> extraEndTokenIds) {
    super("teacher");
    this.model = model;
    this.lm = InProcessModel.of(model);
    this.labeler = new SoftLabeler(lm, config);
    this.provenance = provenance;
    Set<Integer> end = new LinkedHashSet<>(super.endTokenIds());
    end.addAll(extraEndTokenIds);
    this.endTokenIds = Set.copyOf(end);
  }

  public LanguageModel model() {
    return model;
  }

  @Override
  public Tokenizer tokenizer() {
    return model.tokenizer();
  }

  @Override
  public Set<Integer> endTokenIds() {
    // null while the super constructor asks (only the tokenizer's then)
    return endTokenIds == null ? super.endTokenIds() : endTokenIds;
  }

  @Override
  protected SoftLabeler labeler() {
    return labeler;
  }

  @Override
  protected InProcessModel inProcessModel() {
    return lm;
  }

  @Override
  protected Provenance identity() {
    return provenance;
  }

  /**
   * Closes the model and its tokenizer (native memory for a Hugging Face one): the teacher owns
   * them.
   */
  @Override
  public void close() {
    model.close();
    model.tokenizer().close();
  }
}
