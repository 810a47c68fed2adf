/**
 * Hugging Face checkpoints without Python: {@code config.json} ({@code HfConfig}, unknown keys
 * fail), safetensors ({@code SafeTensors}, F32/F16/BF16), the Llama, Qwen2 and GPT-2 families
 * ({@code HfDecoder}) and export back to a Hugging Face folder ({@code HfModels}).
 */
package dev.distill.models.hf;
