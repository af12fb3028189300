import json

import pytest

from tunewise.core.data import check_eval_labels, load_corpus, load_dataset
from tunewise.core.errors import DataError
from tests.fakes import write_jsonl


SHAPES = [
    ("classification", {"text": "the app crashes", "label": "bug"}, "the app crashes", "bug"),
    ("prompt-completion", {"prompt": "2+2=", "completion": "4"}, "2+2=", "4"),
    ("alpaca", {"instruction": "Translate", "input": "bonjour", "output": "hello"}, "Translate\n\nbonjour", "hello"),
    ("qa", {"question": "Who?", "answer": "Ada", "source": "a.md"}, "Who?", "Ada"),
    ("chat", {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
                           {"role": "assistant", "content": "hello"}]}, "hi", "hello"),
]


@pytest.mark.parametrize("shape,row,prompt,response", SHAPES)
def test_each_shape_is_detected_and_normalised(tmp_path, shape, row, prompt, response):
    data = load_dataset(write_jsonl(tmp_path / "d.jsonl", [row]))
    assert data.format == shape
    example = data.examples[0]
    assert (example.prompt, example.response) == (prompt, response)
    assert example.id == "d-1"


def test_chat_prompt_messages_drop_the_answer(tmp_path):
    data = load_dataset(write_jsonl(tmp_path / "c.jsonl", [SHAPES[4][1]]))
    assert data.examples[0].prompt_messages() == [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


def test_format_override_checks_every_record(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"question": "q", "answer": "a", "prompt": "p", "completion": "c"}])
    assert load_dataset(path).format == "prompt-completion"
    assert load_dataset(path, format="qa").format == "qa"


def test_json_array_and_csv(tmp_path):
    (tmp_path / "d.json").write_text(json.dumps([{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]))
    assert load_dataset(tmp_path / "d.json").labels == ["x", "y"]
    (tmp_path / "d.csv").write_text('text,label\n"hello, world",greet\nbye,leave\n')
    data = load_dataset(tmp_path / "d.csv")
    assert [e.prompt for e in data.examples] == ["hello, world", "bye"]
    assert [e.line for e in data.examples] == [2, 3]


def test_ids_from_records_are_kept(tmp_path):
    data = load_dataset(write_jsonl(tmp_path / "d.jsonl", [{"id": 7, "text": "a", "label": "x"}]))
    assert data.examples[0].id == "7"


BAD = [
    ("missing.jsonl", None, "missing.jsonl: file not found"),
    ("empty.jsonl", b"", "empty.jsonl: file is empty"),
    ("blank.jsonl", b"\n  \n", "blank.jsonl: file is empty"),
    ("broken.jsonl", b'{"text": "a", "label": "x"}\n{"text": "b" "label": "y"}\n', "broken.jsonl:2: broken JSON"),
    ("notobj.jsonl", b'{"text": "a", "label": "x"}\n[1, 2]\n', "notobj.jsonl:2: expected a JSON object"),
    ("latin1.jsonl", '{"text": "caf\u00e9", "label": "x"}\n'.encode("latin-1"), "latin1.jsonl:1: not valid UTF-8"),
    ("binary.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary.jsonl: looks like a binary file"),
    ("missing_field.jsonl", b'{"text": "a", "label": "x"}\n{"text": "b"}\n', "missing_field.jsonl:2: missing field 'label'"),
    ("mixed.jsonl", b'{"text": "a", "label": "x"}\n{"question": "q", "answer": "a"}\n', "mixed formats"),
    ("unknown.jsonl", b'{"foo": 1}\n', "unknown.jsonl:1: cannot tell the format from fields foo"),
    ("nulllabel.jsonl", b'{"text": "a", "label": null}\n', "nulllabel.jsonl:1: field 'label' is missing or null"),
    ("dictfield.jsonl", b'{"text": {"a": 1}, "label": "x"}\n', "dictfield.jsonl:1: field 'text' must be text"),
    ("dup.jsonl", b'{"id": 1, "text": "a", "label": "x"}\n{"id": 1, "text": "b", "label": "x"}\n',
     "dup.jsonl:2: duplicate id '1' (first on line 1)"),
    ("chat.jsonl", b'{"messages": [{"role": "user", "content": "hi"}]}\n', "chat.jsonl:1: the last message must be"),
    ("role.jsonl", b'{"messages": [{"role": "robot", "content": "hi"}]}\n', "role.jsonl:1: messages[0] has unknown role"),
    ("short.csv", b"text,label\na\n", "short.csv:2: expected 2 columns, found fewer"),
    ("long.csv", b"text,label\na,b,c\n", "long.csv:2: expected 2 columns, found more"),
    ("data.txt", b"hello\n", "data.txt: unsupported file type '.txt'"),
    ("badarray.json", b'{"text": 1}', "badarray.json: expected a JSON array"),
    ("broken.json", b'[\n {"text": "a",\n "label": }\n]', "broken.json:3: broken JSON"),
]


@pytest.mark.parametrize("name,content,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_clear_line(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_dataset(path)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_huge_single_line_is_refused_by_size(tmp_path):
    path = tmp_path / "huge.jsonl"
    path.write_text(json.dumps({"text": "x" * 50_000_000, "label": "a"}))
    with pytest.raises(DataError, match=r"huge.jsonl:1: record is 50.0 MB"):
        load_dataset(path)


def test_eval_label_unseen_in_training(tmp_path):
    train = load_dataset(write_jsonl(tmp_path / "train.jsonl", [{"text": "a", "label": "x"}]))
    good = load_dataset(write_jsonl(tmp_path / "ok.jsonl", [{"text": "b", "label": "x"}]))
    check_eval_labels(train, good)
    bad = load_dataset(write_jsonl(tmp_path / "eval.jsonl", [{"text": "b", "label": "x"}, {"text": "c", "label": "z"}]))
    with pytest.raises(DataError, match=r"eval.jsonl:2: label 'z' never appears in the training set"):
        check_eval_labels(train, bad)


def test_corpus_folder(tmp_path):
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / "a.md").write_text("# A\nalpha")
    (tmp_path / "docs" / "sub" / "b.txt").write_text("beta")
    (tmp_path / "docs" / ".hidden.txt").write_text("secret")
    (tmp_path / "docs" / "image.png").write_bytes(b"\x89PNG")
    write_jsonl(tmp_path / "docs" / "c.jsonl", [{"text": "gamma", "id": "g1"}, {"text": "delta"}])
    docs = load_corpus(tmp_path / "docs")
    assert [d.id for d in docs] == ["a.md", "g1", "c.jsonl#2", "sub/b.txt"]
    assert docs[-1].text == "beta"


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "corpus folder not found"),
    (lambda p: p.write_text("x"), "is a file"),
    (lambda p: (p.mkdir(), (p / "x.pdf").write_bytes(b"%PDF")), "no .txt, .md or .jsonl documents found"),
    (lambda p: (p.mkdir(), (p / "x.txt").write_bytes(b"caf\xe9")), "x.txt:1: not valid UTF-8"),
    (lambda p: (p.mkdir(), (p / "x.jsonl").write_text('{"body": "no text"}\n')), "x.jsonl:1: field 'text' is missing"),
])
def test_bad_corpus(tmp_path, setup, message):
    path = tmp_path / "corpus"
    setup(path)
    with pytest.raises(DataError, match=message):
        load_corpus(path)
