"""bench/_wordnet_data.py reads WordNet's own file format (lines below are WordNet 3.0's, shortened where the
pointer lists run long) into datasets tunewise loads."""
import random

from bench import _wordnet_data as wordnet_data
from tunewise.core.data import load_dataset

DATA_NOUN = """\
  1 This software and database is being provided to you, the LICENSEE, by  
02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 001 @ 02083346 n 0000 | a member of the genus Canis (probably descended from the common wolf) that has been domesticated by man since prehistoric times; occurs in many breeds; "the dog barked all night"  
07753592 13 n 01 banana 0 001 @ 07705931 n 0000 | elongated crescent-shaped yellow fruit with soft sweet flesh  
10207831 18 n 05 inquirer 0 enquirer 0 questioner 0 querier 0 asker 0 001 @ 10630188 n 0000 | someone who asks a question  
12352287 20 n 02 banana 0 banana_tree 0 001 @ 12351975 n 0000 | any of several tropical and subtropical treelike herbs of the genus Musa having a terminal crown of large entire leaves and usually bearing hanging clusters of elongated fruits  
"""
INDEX_NOUN = """\
  1 This software and database is being provided to you, the LICENSEE, by  
banana n 2 4 @ ~ #m #p 2 2 12352287 07753592  
dog n 1 1 @ 1 1 02084071  
inquirer n 1 3 @ ~ + 1 0 10207831  
"""


def _wordnet(tmp_path):
    (tmp_path / "data.noun").write_text(DATA_NOUN, encoding="utf-8")
    (tmp_path / "index.noun").write_text(INDEX_NOUN, encoding="utf-8")
    return tmp_path


def test_senses_keep_the_definition_without_its_usage_examples(tmp_path):
    senses = {s["offset"]: s for s in wordnet_data.noun_senses(_wordnet(tmp_path))}
    assert sorted(senses) == ["02084071", "07753592", "10207831", "12352287"]          # the license header is skipped
    dog = senses["02084071"]
    assert dog["lexfile"] == "05" and dog["words"] == ["dog", "domestic dog", "Canis familiaris"]
    assert dog["definition"] == ("a member of the genus Canis (probably descended from the common wolf) that has "
                                 "been domesticated by man since prehistoric times; occurs in many breeds")


def test_define_takes_short_definitions_of_the_most_frequent_sense(tmp_path, monkeypatch):
    wordnet = _wordnet(tmp_path)
    senses = wordnet_data.noun_senses(wordnet)
    monkeypatch.setattr(wordnet_data, "DEFINE_TRAIN", 0)
    monkeypatch.setattr(wordnet_data, "DEFINE_EVAL", 1)
    train, evaluation = wordnet_data.define_task(wordnet, senses, random.Random(0))
    # banana's first sense is the plant (30 words) and dog's runs to 24: only inquirer's is 4-20 words
    assert train == [] and evaluation == [{"id": "wn-define-inquirer", "completion": "someone who asks a question",
                                           "prompt": "Define the word 'inquirer' in one short phrase."}]
    folder = tmp_path / "define"
    wordnet_data.write_task(folder, "generation", train, evaluation, "zero-shot", "")
    assert load_dataset(folder / "eval.jsonl").format == "prompt-completion"
    assert "approaches: [zero-shot]" in (folder / "plan.yaml").read_text()
