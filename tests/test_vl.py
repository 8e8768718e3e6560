"""Image-understanding SFT: Excel or JSONL rows → VL ChatML packed with its images in one .zip."""

from __future__ import annotations

import json
import zipfile

from bailian_tui.core.data.convert import convert_file
from bailian_tui.core.data.readers import Item, read_items
from bailian_tui.core.data.scan import validate_file

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def make_xlsx(path, rows):
    """A minimal workbook as Excel writes it: shared strings for the header, inline strings below."""
    header = rows[0]
    shared = "".join(f"<si><t>{h}</t></si>" for h in header)
    cells = ["<row r=\"1\">" + "".join(f'<c r="{chr(65 + i)}1" t="s"><v>{i}</v></c>' for i in range(len(header)))
             + "</row>"]
    for r, row in enumerate(rows[1:], 2):
        cells.append(f'<row r="{r}">' + "".join(
            f'<c r="{chr(65 + i)}{r}" t="inlineStr"><is><t>{v}</t></is></c>' for i, v in enumerate(row)) + "</row>")
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("xl/sharedStrings.xml", f'<sst xmlns="{NS}">{shared}</sst>')
        book.writestr("xl/worksheets/sheet1.xml", f'<worksheet xmlns="{NS}"><sheetData>{"".join(cells)}'
                                                  "</sheetData></worksheet>")


def test_xlsx_template_to_zip(tmp_path):
    (tmp_path / "img").mkdir()
    for name in ("a.png", "b.png"):
        (tmp_path / "img" / name).write_bytes(b"\x89PNG fake " + name.encode())
    source = tmp_path / "vl.xlsx"
    make_xlsx(source, [["id", "prompt", "image", "response"],
                       ["1", "图中是什么？", "img/a.png", "一张胸片"],
                       ["2", "有无骨折？", "img/b.png", "未见骨折"]])
    assert [(i.line, i.record["prompt"]) for i in read_items(source) if isinstance(i, Item)] == \
        [(2, "图中是什么？"), (3, "有无骨折？")]
    out = tmp_path / "vl.zip"
    report = convert_file(source, out)
    assert report.format == "vl" and report.outputs == [str(out)]
    with zipfile.ZipFile(out) as archive:
        records = [json.loads(line) for line in archive.read("data.jsonl").splitlines()]
        names = set(archive.namelist())
    first = records[0]["messages"]
    assert first[0] == {"role": "user", "content": [{"text": "图中是什么？"}, {"image": first[0]["content"][1]["image"]}]}
    assert first[1] == {"role": "assistant", "content": [{"text": "一张胸片"}]}
    assert {r["messages"][0]["content"][1]["image"] for r in records} <= names
    scan = validate_file(out)
    assert scan.errors == 0 and scan.samples == 2 and scan.kind == "vl"


def test_missing_images_block_the_pack_and_are_caught_in_a_zip(tmp_path):
    source = tmp_path / "vl.jsonl"
    source.write_text(json.dumps({"prompt": "看图", "image": "nope.png", "response": "好"}, ensure_ascii=False) + "\n")
    report = convert_file(source, tmp_path / "vl.zip")
    assert not report.outputs and not (tmp_path / "vl.zip").exists()
    assert any(f.code == "missing-image" and "nope.png" in f.message for f in report.findings)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("data.jsonl", json.dumps({"messages": [
            {"role": "user", "content": [{"text": "q"}, {"image": "images/x.png"}]},
            {"role": "assistant", "content": [{"text": "a"}]}]}) + "\n")
    scan = validate_file(broken)
    assert [(f.line, f.code) for f in scan.findings if f.severity == "error"] == [(1, "missing-image")]
