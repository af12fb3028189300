"""bench/_debian_data.py reads Debian's package indexes (the stanzas below are bookworm's and trixie's own,
shortened to the fields it reads) into a volatile question set tunewise loads."""
import random

from bench import _debian_data as debian_data
from tunewise.core.data import load_dataset

PACKAGES_OLD = """\
Package: htop
Version: 3.2.2-2
Maintainer: Daniel Lange <DLange@debian.org>
Description: interactive processes viewer
Homepage: https://htop.dev/
Description-md5: 8eb5aa19b3c92a975dc78e2165f6688d
Tag: admin::monitoring, implemented-in::c, interface::text-mode,
 role::program, scope::utility
Section: utils

Package: libnl-3-200
Version: 3.7.0-0.2+b1
Maintainer: Heiko Stuebner <mmind@debian.org>
Description: library for dealing with netlink sockets
Homepage: http://www.infradead.org/~tgr/libnl/
Description-md5: 4ec7a9bc6c5e29c2a5b0fd2f2d8eb5c5
Section: libs
"""
PACKAGES_NEW = PACKAGES_OLD.replace("3.2.2-2", "3.4.1-5").replace("3.7.0-0.2+b1", "3.7.0-2")
TRANSLATION = """\
Package: htop
Description-md5: 8eb5aa19b3c92a975dc78e2165f6688d
Description-en: interactive processes viewer
 Htop is an ncursed-based process viewer similar to top, but it
 allows one to scroll the list vertically and horizontally to see
 all processes and their full command lines.
 .
 Tasks related to processes (killing, renicing) can be done without
 entering their PIDs.

Package: libnl-3-200
Description-md5: 4ec7a9bc6c5e29c2a5b0fd2f2d8eb5c5
Description-en: library for dealing with netlink sockets
 This is a library for applications dealing with netlink sockets. The library
 provides an interface for raw netlink messaging and various netlink family
 specific interfaces, so that it runs longer than twenty-five words in all.
"""


def test_a_package_becomes_its_facts_with_the_description_in_paragraphs():
    facts = debian_data.packages(PACKAGES_OLD, TRANSLATION)["htop"]
    assert facts["version"] == "3.2.2-2" and facts["maintainer"] == "Daniel Lange"
    assert facts["section"] == "utils" and facts["homepage"] == "https://htop.dev/"
    assert facts["summary"] == "interactive processes viewer"
    assert facts["description"].split("\n\n") == [
        "Htop is an ncursed-based process viewer similar to top, but it allows one to scroll the list vertically "
        "and horizontally to see all processes and their full command lines.",
        "Tasks related to processes (killing, renicing) can be done without entering their PIDs."]


def test_libraries_and_unchanged_versions_are_left_out():
    old, new = (debian_data.packages(text, TRANSLATION) for text in (PACKAGES_OLD, PACKAGES_NEW))
    assert debian_data.wanted(old["htop"], new["htop"])
    assert not debian_data.wanted(old["libnl-3-200"], new["libnl-3-200"])     # a library
    assert not debian_data.wanted(old["htop"], old["htop"])                   # the same version in both
    assert not debian_data.wanted(old["htop"], None)                          # gone from the second release


def test_the_question_sets_load_and_the_next_release_answers_the_drift(tmp_path, monkeypatch):
    old, new = (debian_data.packages(text, TRANSLATION) for text in (PACKAGES_OLD, PACKAGES_NEW))
    monkeypatch.setattr(debian_data, "PACKAGES", 1)
    monkeypatch.setattr(debian_data, "TRAIN_PACKAGES", 0)
    monkeypatch.setattr(debian_data, "NEXT_QUESTIONS", 1)
    built = debian_data.build(old, new, random.Random(0))
    assert built["train"] == [] and len(built["eval"]) == 1
    assert built["eval-next"] == [{"id": "deb-next-000", "source": "htop.md", "answer": "3.4.1-5",
                                   "question": "Which version of htop does Debian's stable release ship?"}]
    assert "Debian 12 (bookworm), ships htop version 3.2.2-2 in the utils section" in built["docs"]["htop.md"]
    assert "Debian 13 (trixie), ships htop version 3.4.1-5" in built["docs-next"]["htop.md"]
    folder = tmp_path / "packages"
    debian_data.write(folder, built)
    assert load_dataset(folder / "eval-next.jsonl").format == "qa"
    assert (folder / "docs-next" / "htop.md").read_text() == built["docs-next"]["htop.md"]
    assert "corpus_next: docs-next/" in (folder / "plan.yaml").read_text()
