package dev.distill.schemas.validation;

/** Why a record was rejected. Names are stable: curation reports count rejects by them. */
public enum Reason {
  NON_FINITE_PROBABILITY,
  PROBABILITY_OUT_OF_RANGE,
  TOPK_SUM_ABOVE_ONE,
  ID_OUT_OF_VOCAB,
  DUPLICATE_ID,
  SHAPE_MISMATCH,
  NON_POSITIVE_TEMPERATURE,
  TOKEN_OUT_OF_VOCAB,
  UNKNOWN_CODEC,
  UNDECODABLE_SOFT_LABELS,
  PROVENANCE_MISMATCH
}
