"""Model-driven runs: the model proposes, the engine disposes.

A run whose plan is a `model_turn` step is a loop of model turns and tool calls, each an ordinary
durable step of the run (executor, lease and fence, approval gate, rollback point, diff, retry
policy, workstream events):

- `turns`: the model_turn handler. The reply is stored (ModelTurn) before any of its tool calls
  runs; its calls become steps inserted after the turn, followed by the next turn.
- `tools`: the tools offered to the model and how each call becomes a PlanStep.
- `observations`: what each settled tool step tells the model next turn (capped).
- `limits`: the budget (turns, tool calls, tokens) and stuck detection; both pause the run.
- `plan`: a project edit, with a provider connected, planned as its first model turn and the check.
- `questions`: the person's answer to a model's question (ask_operator) resumes the run.
- `revisions`: a turn that changes the planned work stores a plan revision saying what and why.
- `content`: outputs' content written by the model through typed content tools (one per spec kind),
  inside the generation step; the generators render it and the output's brief checks it.

The model never declares a run complete: `finish` leads to the check, a `verify` step, and the
run's verification gate decides. A failing check is the model's next observation while budget
remains.
"""
