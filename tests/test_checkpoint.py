"""Checkpoints: round trip, a model rebuilt from the file alone, clear errors for foreign files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from simul.data.features.cmvn import Cmvn
from simul.data.features.fbank import FbankConfig
from simul.data.tokenizer import SpmConfig, train_sentencepiece
from simul.families.checkpoint import (
    FORMAT_VERSION,
    Checkpoint,
    build_model,
    cmvn_to_dict,
    init_encoder_from,
    load_checkpoint,
    save_checkpoint,
    weights_sha256,
)
from simul.families.transducer.model import Transducer, tiny


@pytest.fixture(scope="module")
def spm_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    texts = ["the cat sleeps", "a dog runs", "the big red dog", "green cats run"] * 5
    tokenizer = train_sentencepiece(
        tmp_path_factory.mktemp("spm") / "spm", SpmConfig(vocab_size=30, model_type="char"),
        texts=texts,
    )  # fmt: skip
    return tokenizer.model_path.read_bytes()


def _checkpoint(spm_bytes: bytes, **changes: object) -> tuple[Checkpoint, Transducer]:
    torch.manual_seed(0)
    config = dataclasses.replace(tiny(), vocab_size=30)
    model = Transducer(config)
    cmvn = Cmvn(
        mean=np.linspace(1, 2, 80), std=np.linspace(2, 3, 80), num_frames=123,
        fbank_config=FbankConfig(),
    )  # fmt: skip
    checkpoint = Checkpoint(
        family="transducer",
        model_config=dataclasses.asdict(config),
        state_dict=model.state_dict(),
        tokenizer_model=spm_bytes,
        fbank_config=FbankConfig().to_dict(),
        cmvn=cmvn_to_dict(cmvn),
        train_config={"trainer": {"seed": 3}},
        step=7,
        epoch=1,
        metrics={"valid/asr/WER": 12.5},
        trainer_state={"optimizer": {"state": {}}, "epoch": 1},
    )
    return dataclasses.replace(checkpoint, **changes), model


def test_a_checkpoint_rebuilds_its_model_tokenizer_and_features(
    spm_bytes: bytes, tmp_path: Path
) -> None:
    checkpoint, model = _checkpoint(spm_bytes)
    path = tmp_path / "run" / "last.pt"
    save_checkpoint(path, checkpoint)
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary file left
    loaded = load_checkpoint(path)
    assert loaded.format_version == FORMAT_VERSION
    assert (loaded.step, loaded.epoch, loaded.metrics) == (7, 1, {"valid/asr/WER": 12.5})
    assert loaded.train_config == {"trainer": {"seed": 3}}
    assert loaded.trainer_state == {"optimizer": {"state": {}}, "epoch": 1}
    rebuilt = build_model(loaded)
    assert isinstance(rebuilt, Transducer) and not rebuilt.training
    assert rebuilt.config == model.config
    for name, tensor in model.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[name], tensor), name
    assert weights_sha256(rebuilt) == weights_sha256(model)
    with torch.no_grad():
        rebuilt.joiner.output.bias[0] += 1e-6
    assert weights_sha256(rebuilt) != weights_sha256(model)
    tokenizer = loaded.tokenizer(tmp_path / "cache")
    assert tokenizer.decode(tokenizer.encode("the red cat")) == "the red cat"
    assert loaded.tokenizer(tmp_path / "cache").model_path == tokenizer.model_path
    assert loaded.fbank() == FbankConfig()
    cmvn = loaded.cmvn_stats()
    assert cmvn is not None and cmvn.num_frames == 123
    np.testing.assert_array_equal(cmvn.mean, np.linspace(1, 2, 80))


def test_a_checkpoint_without_cmvn_or_trainer_state(spm_bytes: bytes, tmp_path: Path) -> None:
    checkpoint, _ = _checkpoint(spm_bytes, cmvn=None, trainer_state=None)
    save_checkpoint(tmp_path / "best.pt", checkpoint)
    loaded = load_checkpoint(tmp_path / "best.pt")
    assert loaded.cmvn_stats() is None and loaded.trainer_state is None


def test_foreign_and_newer_files_are_refused_naming_the_file(
    spm_bytes: bytes, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match=r"garbage\.pt is not a simul checkpoint"):
        load_checkpoint(garbage)
    plain = tmp_path / "plain.pt"
    torch.save({"model": torch.zeros(2)}, plain)
    with pytest.raises(ValueError, match=r"plain\.pt is not a simul checkpoint"):
        load_checkpoint(plain)
    newer = tmp_path / "newer.pt"
    checkpoint, _ = _checkpoint(spm_bytes, format_version=FORMAT_VERSION + 1)
    save_checkpoint(newer, checkpoint)
    with pytest.raises(ValueError, match=rf"newer\.pt has .* version {FORMAT_VERSION + 1}.*update"):
        load_checkpoint(newer)
    with pytest.raises(ValueError, match="family"):
        save_checkpoint(tmp_path / "x.pt", dataclasses.replace(checkpoint, family="nope"))


def test_init_encoder_from_copies_only_the_encoder_into_another_family(
    spm_bytes: bytes, tmp_path: Path
) -> None:
    from simul.families.aed.model import AttentionEncoderDecoder
    from simul.families.aed.model import tiny as aed_tiny

    checkpoint, transducer = _checkpoint(spm_bytes)
    path = tmp_path / "asr.pt"
    save_checkpoint(path, checkpoint)
    torch.manual_seed(1)
    aed = AttentionEncoderDecoder(dataclasses.replace(aed_tiny(), vocab_size=40))
    decoder_before = {k: v.clone() for k, v in aed.decoder.state_dict().items()}
    assert not torch.equal(
        next(iter(aed.encoder.parameters())), next(iter(transducer.encoder.parameters()))
    )

    source = init_encoder_from(aed, path, cmvn=checkpoint.cmvn)

    assert source.step == 7
    for name, tensor in transducer.encoder.state_dict().items():
        assert torch.equal(aed.encoder.state_dict()[name], tensor), name
    for name, tensor in aed.decoder.state_dict().items():
        assert torch.equal(decoder_before[name], tensor), name


def test_init_encoder_from_refuses_other_encoders_and_features(
    spm_bytes: bytes, tmp_path: Path
) -> None:
    checkpoint, _ = _checkpoint(spm_bytes)
    path = tmp_path / "asr.pt"
    save_checkpoint(path, checkpoint)
    wider = dataclasses.replace(tiny(), vocab_size=30)
    wider = dataclasses.replace(wider, encoder=dataclasses.replace(wider.encoder, d_model=64))
    with pytest.raises(ValueError, match=r"encoder config differs .*'d_model'"):
        init_encoder_from(Transducer(wider), path, cmvn=checkpoint.cmvn)
    same = Transducer(dataclasses.replace(tiny(), vocab_size=30))
    with pytest.raises(ValueError, match="other CMVN statistics"):
        init_encoder_from(same, path, cmvn=None)
    with pytest.raises(ValueError, match="has no `encoder`"):
        init_encoder_from(torch.nn.Linear(2, 2), path, cmvn=checkpoint.cmvn)


def test_init_encoder_from_reaches_the_monotonic_translators_encoder(
    spm_bytes: bytes, tmp_path: Path
) -> None:
    from simul.families.monotonic.model import MonotonicTranslator
    from simul.families.monotonic.model import tiny as mma_tiny

    checkpoint, transducer = _checkpoint(spm_bytes)
    save_checkpoint(tmp_path / "asr.pt", checkpoint)
    config = mma_tiny()
    config = dataclasses.replace(config, aed=dataclasses.replace(config.aed, vocab_size=40))
    mma = MonotonicTranslator(config)
    init_encoder_from(mma, tmp_path / "asr.pt", cmvn=checkpoint.cmvn)
    for name, tensor in transducer.encoder.state_dict().items():
        assert torch.equal(mma.state_dict()[f"aed.encoder.{name}"], tensor), name
