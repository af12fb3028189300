"""Preference pairs: the three accepted shapes, and one clear error per bad row."""
import pytest

from tests.fakes import write_jsonl
from tunewise.core.errors import DataError
from tunewise.core.preference import as_trl_rows, load_preferences, split_pairs

CHAT = {"chosen": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}],
        "rejected": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Go away."}]}


def test_text_conversational_and_two_chat_shapes_normalise_alike(tmp_path):
    rows = [{"prompt": "Hi?", "chosen": "Hello.", "rejected": "Go away."},
            {"prompt": [{"role": "user", "content": "Hi?"}], "chosen": [{"role": "assistant", "content": "Hello."}],
             "rejected": [{"role": "assistant", "content": "Go away."}]},
            CHAT]
    data = load_preferences(write_jsonl(tmp_path / "p.jsonl", rows))
    shapes = [(p.prompt, p.chosen, p.rejected) for p in data.pairs]
    assert shapes == [shapes[0]] * 3 and shapes[0][0] == ({"role": "user", "content": "Hi?"},)
    row = as_trl_rows(data.pairs[:1], system="Be kind.")[0]
    assert row["prompt"][0] == {"role": "system", "content": "Be kind."}
    assert row["chosen"] == [{"role": "assistant", "content": "Hello."}]


@pytest.mark.parametrize("row, message", [
    ({"prompt": "Hi?", "chosen": "Same.", "rejected": "Same."}, "chosen and rejected are the same reply"),
    ({"prompt": "Hi?", "chosen": "Hello."}, "missing field 'rejected'"),
    ({"prompt": "Hi?", "rejected": "No."}, "missing field 'chosen'"),
    ({"prompt": "", "chosen": "a", "rejected": "b"}, "field 'prompt' is empty"),
    ({"prompt": "Hi?", "chosen": "  ", "rejected": "b"}, "field 'chosen' is empty"),
    ({"chosen": CHAT["chosen"], "rejected": [{"role": "user", "content": "Other"}, CHAT["rejected"][1]]},
     "share every turn"),
    ({"prompt": "Hi?", "chosen": [{"role": "robot", "content": "x"}], "rejected": "b"}, "unknown role 'robot'"),
])
def test_a_bad_row_is_one_error_naming_its_line(tmp_path, row, message):
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "ok", "chosen": "a", "rejected": "b"}, row])
    with pytest.raises(DataError, match=message) as err:
        load_preferences(path)
    assert str(err.value).startswith(f"{path}:2: ")


def test_the_shipped_example_pairs_load_and_split_reproducibly():
    from pathlib import Path

    data = load_preferences(Path(__file__).parents[2] / "examples" / "preferences.jsonl")
    assert len(data) == 24
    train, held = split_pairs(data, 0.25, seed=0)
    assert (len(train), len(held)) == (18, 6) and split_pairs(data, 0.25, seed=0)[1] == held
    assert not {p.id for p in train} & {p.id for p in held}
