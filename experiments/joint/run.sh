#!/usr/bin/env bash
# The joint ASR/ST comparison (issue 5) from the built corpus to the table, in numbered stages:
#
#   bash experiments/joint/run.sh          # every stage
#   bash experiments/joint/run.sh 2 3      # stages 2 and 3 only
#
# 0: the built-in corpus and its CMVN (skipped when they exist)
# 1: the four SentencePiece vocabularies (128 pieces each; the joint ones with their stream tags)
# 2: train the four models, one after another, from the ASR T-T's encoder (a rerun resumes)
# 3: stream the test split through them and write runs/joint_tt/eval/table.{tsv,md}
#
# Run from the repository root.  Training is niced (the machine may be shared).
set -euo pipefail

corpus=data/built/synth-small
vocab=$corpus/joint_tt
text=$corpus/train/txt
configs=(asr_tt_equal st_tt_equal joint_tt_asr_st joint_tt_one_to_many)
stages=("$@")
[[ ${#stages[@]} -gt 0 ]] || stages=(0 1 2 3)

simul() { bash .ci/venv simul "$@"; }
wants() { [[ " ${stages[*]} " == *" $1 "* ]]; }

if wants 0; then
  [[ -f $corpus/manifest.json ]] || simul data synth "$corpus" --size small
  [[ -f $corpus/cmvn.npz ]] || simul data cmvn "$corpus"
fi

if wants 1; then
  mkdir -p "$vocab"
  spm() { simul data spm --vocab-size 128 --model-type bpe "$@"; }
  spm --input "$text/train.en" --out "$vocab/spm_en_bpe128"
  spm --input "$text/train.de" --out "$vocab/spm_de_bpe128"
  spm --input "$text/train.en" "$text/train.de" --out "$vocab/spm_en_de_bpe128" --tags '<asr>,<st>'
  spm --input "$text/train.en" "$text/train.de" "$text/train.es" \
    --out "$vocab/spm_en_de_es_bpe128" --tags '<asr>,<de>,<es>'
fi

if wants 2; then
  # Every model starts from the small ASR T-T's encoder (model.init_encoder_from).
  [[ -f runs/asr_tt_small/checkpoints/best.pt ]] || nice -n 5 bash .ci/venv simul train experiments/asr_tt_small.yaml
  # One at a time on both cores (two OpenMP runs side by side slow each other down 3-7x).
  for name in "${configs[@]}"; do
    nice -n 5 bash .ci/venv simul train "experiments/$name.yaml"
  done
fi

if wants 3; then
  nice -n 5 bash .ci/venv python experiments/joint/evaluate.py
fi
