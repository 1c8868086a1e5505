"""``camera2mqtt library``: summary, list and forget over the daemon's store."""

from __future__ import annotations

from camera2mqtt.cli import main
from tests.library.conftest import FOLDER, add, sync


def test_summary_list_and_forget(sim, camera, store, tmp_path, capsys):
    config = tmp_path / "camera2mqtt.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\ncameras: {{cam: {{type: wifi}}}}\n")
    add(sim, "P5170001.JPG", "a")
    add(sim, "P5170002.JPG", "b")
    out = tmp_path / "photos"
    sync(camera, store, out)

    assert main(["library", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("cam\t2 photo(s)\t0.0 MB")
    assert main(["library", "--config", str(config), "list", "--camera", "cam"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[1] for line in lines] == [
        f"{FOLDER}/P5170001.JPG",
        f"{FOLDER}/P5170002.JPG",
    ]
    assert main(["library", "--config", str(config), "forget", "--camera", "cam"]) == 2
    assert "--all" in capsys.readouterr().err
    forget = ["library", "--config", str(config), "forget", "--camera", "cam"]
    assert main([*forget, f"{FOLDER}/P5170001.JPG"]) == 0
    assert "Forgot 1 record(s)" in capsys.readouterr().out
    (out / "2024/05/17/P5170001.JPG").unlink()
    [again] = sync(camera, store, out).summary().done
    assert again.path == f"{FOLDER}/P5170001.JPG"
    assert main([*forget, "--all"]) == 0
    assert "Forgot 2 record(s)" in capsys.readouterr().out


def test_bad_config_exits_78(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("cameras: {a: {type: wifi, library: {path_template: '../{name}'}}}\n")
    assert main(["library", "--config", str(config)]) == 78
    assert "cameras.a.library.path_template" in capsys.readouterr().err
