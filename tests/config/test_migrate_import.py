"""schema_version migrations and ``config import`` of configs laid out as model / training /
lora / data / serving / monitoring."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamahome_gui.config.errors import ConfigValidationError, display_path
from llamahome_gui.config.importer import apply_import, plan_import
from llamahome_gui.config.manager import ConfigManager
from llamahome_gui.config.migrations import MIGRATIONS
from llamahome_gui.config.schema import SCHEMA_VERSION

OLD_TRAINING = """\
# my old training settings
[training]
# how many at once
batch_size = 8  # fits my GPU
epochs = 2
learning_rate = 1e-4

[lora]
rank = 8
alpha = 16
target_modules = ["q_proj", "v_proj"]
"""


def test_every_version_step_has_a_migration() -> None:
    assert sorted(MIGRATIONS) == list(range(SCHEMA_VERSION))


def test_v0_file_loads_with_renamed_keys_and_is_written_migrated(tmp_path: Path) -> None:
    path = tmp_path / "training_config.toml"
    path.write_text(OLD_TRAINING)
    cfg = ConfigManager(tmp_path)
    loaded = cfg.load("training")
    assert (loaded.training.per_device_train_batch_size, loaded.training.num_train_epochs,
            loaded.lora.r, loaded.lora.lora_alpha) == (8, 2.0, 8, 16.0)
    assert path.read_text() == OLD_TRAINING, "loading never writes"
    note = [str(w) for w in cfg.check("training").warnings if "schema_version" in str(w)]
    assert note == [f"{display_path(path)}: warning: schema_version 0 -> 1 (training.batch_size "
                    "renamed to training.per_device_train_batch_size; training.epochs renamed "
                    "to training.num_train_epochs; lora.rank renamed to lora.r; lora.alpha "
                    "renamed to lora.lora_alpha); written on the next save"]

    assert cfg.update("training", {"lora.r": 4}) == ["training.lora.r"]
    text = path.read_text()
    assert text.startswith("# my old training settings\nschema_version = 1\n")
    assert "# how many at once\nper_device_train_batch_size = 8  # fits my GPU\n" in text
    assert "\nr = 4\nlora_alpha = 16\n" in text and "rank" not in text
    assert cfg.check("training").warnings == []


def test_errors_in_a_v0_file_point_at_the_old_key(tmp_path: Path) -> None:
    path = tmp_path / "training_config.toml"
    path.write_text(OLD_TRAINING.replace("rank = 8", "rank = 0"))
    with pytest.raises(ConfigValidationError) as info:
        ConfigManager(tmp_path).load("training")
    assert str(info.value) == f"{display_path(path)}:9: training.lora.r = 0: must be >= 1"


SEED_BLOCKS = {
    "model": '[model]\nname = "llama"\nfamily = "llama"\nsize = "13b"\nvariant = "chat"\n'
             'revision = "main"\nquantization = "none"\n\n[resources]\nmin_gpu_memory = 16\n'
             'max_batch_size = 32\nmax_sequence_length = 32768\n',
    "resource": '[gpu]\nmemory_fraction = 0.9\nallow_growth = true\nper_process_memory = "12GB"\n'
                'enable_tf32 = true\n\n[monitor]\ncheck_interval = 1.0\nmemory_threshold = 0.9\n'
                'cpu_threshold = 0.8\n',
    "metrics": '[storage]\nstorage_type = "local"\nretention_days = 30\ncompression = true\n'
               'export_format = "parquet"\n\n[metrics]\nenabled_metrics = ["cpu", "memory", '
               '"gpu", "throughput"]\naggregation_interval = 60\n',
    "monitoring": '[logging]\nlog_interval = 60\nsave_interval = 600\nlog_level = "INFO"\n\n'
                  '[visualization]\ntensorboard = true\nprogress_bars = true\nplot_metrics = true'
                  '\n\n[alerts]\nenabled = true\nalert_on_error = true\nnotification_backend = '
                  '"console"\n',
}


def test_the_documented_example_blocks_validate(tmp_path: Path) -> None:
    for component, text in SEED_BLOCKS.items():
        (tmp_path / f"{component}_config.toml").write_text(text)
    cfg = ConfigManager(tmp_path)
    errors, warnings = cfg.validate_all()
    assert errors == []
    assert not [w for w in warnings if "unknown key" in str(w)]
    assert cfg.get("model.resources.max_sequence_length") == 32768
    assert cfg.get("monitoring.alerts.notification_backend") == "console"


FOREIGN_YAML = """\
model:
  name: llama-3-8b
  path: /models/llama
  quantization: int8
  torch_dtype: bf16
  max_length: 4096
training:
  epochs: 2
  batch_size: 2
  learning_rate: 0.0002
  fp16: true
  optimizer: adamw
lora:
  rank: 16
  alpha: 32
  dropout: 0.1
  target_modules: [q_proj, v_proj]
data:
  train_path: data/train.jsonl
  format: alpaca
  shuffle: true
serving:
  host: 0.0.0.0
  port: 8080
  max_tokens: 512
  temperature: 0.2
monitoring:
  log_level: info
  wandb:
    project: demo
    entity: me
"""


def test_import_yaml_maps_sections_and_lists_keys_without_a_home(config_dir: Path,
                                                                tmp_path: Path) -> None:
    source = tmp_path / "old.yaml"
    source.write_text(FOREIGN_YAML)
    cfg = ConfigManager(config_dir)
    before = (config_dir / "training_config.toml").read_text()
    result = apply_import(cfg, source)
    assert result.plan.unmapped == ["training.optimizer", "data.shuffle",
                                    "monitoring.wandb.project", "monitoring.wandb.entity"]
    assert cfg.get("inference.serving.port") == 8080
    assert cfg.get("inference.serving.host") == "0.0.0.0"
    assert cfg.get("model.model.quantization") == "8bit"
    assert cfg.get("model.model.dtype") == "bfloat16"
    assert cfg.get("model.resources.max_sequence_length") == 4096
    assert cfg.get("training.training.mixed_precision") == "fp16"
    assert cfg.get("training.lora.target_modules") == ["q_proj", "v_proj"]
    assert cfg.get("training.training.dataset_path") == "data/train.jsonl"
    assert cfg.get("inference.generation.max_new_tokens") == 512
    assert cfg.get("monitoring.logging.log_level") == "INFO"
    after = (config_dir / "training_config.toml").read_text()
    assert [x for x in before.splitlines() if x.startswith("#")] == \
        [x for x in after.splitlines() if x.startswith("#")], "comments survive an import"


def test_import_toml_and_bad_values_name_the_source_line(config_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "old.toml"
    source.write_text('[lora]\nrank = 5000\n\n[training]\nepochs = 1\n')
    assert plan_import(source).values == {"training": {"lora.r": 5000,
                                                       "training.num_train_epochs": 1}}
    cfg = ConfigManager(config_dir)
    before = (config_dir / "training_config.toml").read_bytes()
    with pytest.raises(ConfigValidationError) as info:
        apply_import(cfg, source)
    assert str(info.value) == (f"{display_path(source)}:2: training.lora.r = 5000: must be "
                               "<= 1024 (from lora.rank)")
    assert (config_dir / "training_config.toml").read_bytes() == before
