"""A classifier head: a trained score layer over the frozen base model's features."""
from tunewise.core.registry import ApproachSpec
from tunewise.core.schema import TrainingKnobs

SPEC = ApproachSpec(
    name="head", kind="tuned", needs=frozenset({"labels", "weights"}), prior=0.0, trainer="head",
    train_task="classification", traits=frozenset({"classifier"}), tasks=("classification",),
    tasks_note="a classifier head only predicts labels", config=TrainingKnobs,
)


def build(ws):
    from tunewise.eval.systems import ClassifierSystem
    from tunewise.eval.workspace import Built
    from tunewise.tuning.head import load_classifier

    run = ws.tune(SPEC.name)
    built = Built(ClassifierSystem(load_classifier(ws.out / "models" / SPEC.name)))
    built.notes.append("the base model is frozen, so general knowledge cannot be forgotten")
    return built.add_run(run)
