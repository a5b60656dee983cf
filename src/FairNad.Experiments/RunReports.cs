using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using FairNad.Search;

namespace FairNad.Experiments;

/// <summary>The run folder's readable outputs: feedback.json (per attribute and category) and summary.md.</summary>
public static class RunReports
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <param name="credit">Under search rules 3, each mutation type's trials, successes and draw probability; empty otherwise (no entry is written).</param>
    public static void WriteFeedback(string path, FeedbackLedger ledger, IReadOnlyList<FailedMutation> failed, IReadOnlyList<MutationCredit>? credit = null)
    {
        JsonArray Stats(IEnumerable<FeedbackStats> stats, bool attributes) => [.. stats.Select(s =>
        {
            var entry = new JsonObject
            {
                ["key"] = s.Key,
                ["tries"] = s.Tries,
                ["valid"] = s.Valid,
                ["validRate"] = Math.Round(s.ValidRate, 4),
                ["improved"] = s.Improved,
                ["meanAccuracyDelta"] = Math.Round(s.MeanAccuracyDelta, 4),
                ["meanCostDelta"] = Math.Round(s.MeanCostDelta, 1),
                ["failures"] = new JsonObject(s.Failures.Select(f => KeyValuePair.Create(f.Key, (JsonNode?)f.Value))),
            };

            // Only when there is something to say (search rules 2), so runs of rules 1 keep feedback.json's form.
            if (s.NotApplicable > 0)
            {
                entry["notApplicable"] = s.NotApplicable;
            }

            if (attributes && ledger.MeasuredEffect(s.Key) is { } effect)
            {
                entry["measuredEffect"] = effect;
            }

            return (JsonNode)entry;
        })];
        var document = new JsonObject
        {
            ["byAttribute"] = Stats(ledger.ByAttribute(), attributes: true),
            ["byCategory"] = Stats(ledger.ByCategory(), attributes: false),
            ["failedMutations"] = new JsonArray([.. failed.Select(f => (JsonNode)new JsonObject
            {
                ["mutationType"] = f.MutationType,
                ["parent"] = f.Parent,
                ["attribute"] = f.AttributeId,
                ["reason"] = f.Reason,
            })]),
        };
        if (ledger.Noise.Count > 0)
        {
            // Only when the run measured noise, so feedback.json keeps its form otherwise.
            document["noiseThreshold"] = new JsonObject(ledger.Noise.Select(n => KeyValuePair.Create($"rung{n.Key}", (JsonNode?)Math.Round(n.Value, 4))));
        }
        if (credit is { Count: > 0 })
        {
            // Only under search rules 3 (adaptive mutation-type selection), so feedback.json keeps its form otherwise.
            document["mutationTypes"] = new JsonArray([.. credit.Select(c => (JsonNode)new JsonObject
            {
                ["type"] = c.MutationType,
                ["prior"] = Math.Round(c.Prior, 4),
                ["trials"] = c.Trials,
                ["successes"] = c.Successes,
                ["probability"] = Math.Round(c.Probability, 4),
            })]);
        }

        JsonFiles.WriteAtomically(path, document);
    }

    public static string Summary(SearchContext context, SearchOutcome outcome)
    {
        var e = context.Experiment;
        var text = new StringBuilder();
        text.Append(Invariant, $"# Run {outcome.Run}\n\n");
        text.Append(Invariant, $"Experiment `{context.ExperimentPath}` ({e.Strategy}, seed {context.Seed}) on {e.Dataset}: {outcome.Candidates.Count} candidates, ");
        text.Append(Invariant, $"{outcome.Candidates.Count(c => !c.Ok)} failed, {outcome.Duplicates} duplicate proposals skipped. Stopped: {outcome.StopReason}.\n\n");
        if (e.Ladder is { } ladder)
        {
            // Only for a laddered run, so other summaries keep their text.
            var rungs = Enumerable.Range(0, ladder.Rungs.Count).Select(r =>
            {
                var f = e.FidelityAt(r);
                var evaluated = outcome.AllEvaluations.Count(x => x.Rung == r && !x.IsNoise);
                return string.Create(Invariant, $"rung {r} ({f.Epochs} epoch(s), {f.TrainSubset?.ToString("N0", Invariant) ?? "all"} images): {evaluated}");
            });
            text.Append(Invariant, $"Ladder, top {ladder.Promote:G3} promoted; evaluations per rung: {string.Join("; ", rungs)}. Candidates rank by rung first (a higher rung outranks a lower), then validation accuracy; each row is the candidate at the highest rung it reached.\n\n");
        }

        text.Append("## Best by validation accuracy\n\n| # | candidate | mutation | attribute | validation % | test % | parameters | MACs | commit |\n|---|---|---|---|---|---|---|---|---|\n");
        foreach (var c in RunArchive.Ranked(outcome.Candidates).Take(5))
        {
            text.Append(Row(c));
        }

        text.Append(Invariant, $"\n## Pareto front (validation accuracy vs {e.CostObjective})\n\n| # | candidate | mutation | attribute | validation % | test % | parameters | MACs | commit |\n|---|---|---|---|---|---|---|---|---|\n");
        foreach (var c in outcome.Front)
        {
            text.Append(Row(c));
        }

        var failures = outcome.Candidates.Where(c => !c.Ok).ToList();
        if (failures.Count > 0)
        {
            text.Append("\n## Failed candidates\n\n");
            foreach (var c in failures)
            {
                text.Append(Invariant, $"- #{c.Index} `{c.Candidate[..12]}` ({c.MutationType}): {c.FailureCategory}: {c.FailureMessage}\n");
            }
        }

        if (outcome.Feedback is { } feedback && feedback.Outcomes.Count > 0)
        {
            text.Append("\n## Feedback by attribute\n\n| attribute | tries | valid | improved | mean accuracy change | mean parameter change | failures |\n|---|---|---|---|---|---|---|\n");
            foreach (var s in feedback.ByAttribute())
            {
                text.Append(Invariant, $"| {s.Key} | {s.Tries} | {s.Valid} | {s.Improved} | {s.MeanAccuracyDelta:+0.00;-0.00;0.00} | {s.MeanCostDelta:+0;-0;0} | {string.Join(", ", s.Failures.Select(f => $"{f.Key} x{f.Value}"))} |\n");
            }

            // Search rules 2 only (rules 1 records neither), so other summaries keep their text.
            var measured = feedback.ByAttribute().Where(s => s.NotApplicable > 0 || feedback.MeasuredEffect(s.Key) is not null).ToList();
            if (measured.Count > 0)
            {
                text.Append(Invariant, $"\nApplicability and effects: parents an attribute was drawn for but did not apply to (tried on the next parent; not failures), and its effect as declared in the tree and as measured once it has {FeedbackLedger.EffectEvidence} measured tries (efficiency when its children were cheaper on average; this steers Pareto-aware mutation).\n\n");
                text.Append("| attribute | not applicable | measured tries | declared effect | measured effect |\n|---|---|---|---|---|\n");
                foreach (var s in measured)
                {
                    text.Append(Invariant, $"| {s.Key} | {s.NotApplicable} | {s.Measured} | {context.Tree.Find(s.Key)?.Effect ?? "-"} | {feedback.MeasuredEffect(s.Key) ?? "-"} |\n");
                }
            }
        }

        if (outcome.MutationCredit is { Count: > 0 } credit)
        {
            // Only under search rules 3, so other summaries keep their text.
            text.Append("\n## Mutation types\n\nSearch rules 3 draw each mutation type with probability proportional to its share of the mix times its smoothed success rate (successes + 1) / (trials + 2): a trial is a new child whose parent has a result at the same rung, a success a valid child more accurate than its parent. Probabilities are those of the next draw.\n\n");
            text.Append("| mutation type | mix share | trials | successes | smoothed rate | probability |\n|---|---|---|---|---|---|\n");
            foreach (var c in credit)
            {
                text.Append(Invariant, $"| {c.MutationType} | {c.Prior:0.###} | {c.Trials} | {c.Successes} | {c.SmoothedRate:0.###} | {c.Probability:0.###} |\n");
            }
        }

        if (e.Llm.WriteOperators)
        {
            // Only for a run that lets the LLM write operators, so other summaries keep their text.
            var introduced = OperatorArchiveSummary.Introduced(context.Archive.Directory, outcome.AllEvaluations);
            text.Append(OperatorArchiveSummary.Markdown(OperatorArchiveSummary.Shares(context.Tree, introduced), introduced));
        }

        if (outcome.LlmUse is { } use)
        {
            text.Append("\n## LLM use\n\nOver every session of the run (a resumed run replays what it had asked, at no cost); seconds are time spent in live calls, retries included.\n\n");
            text.Append("| stage | calls | live | replayed | failed | prompt tokens | completion tokens | seconds |\n|---|---|---|---|---|---|---|---|\n");
            foreach (var u in use)
            {
                text.Append(Invariant, $"| {u.Stage} | {u.Calls} | {u.Live} | {u.Replayed} | {u.Failed} | {u.PromptTokens:N0} | {u.CompletionTokens:N0} | {u.Seconds:F1} |\n");
            }
        }

        text.Append(Invariant, $"\nEvery candidate is a branch `fairnad/{outcome.Run}/<candidate id>` whose parent commits are its parents; metrics are in the notes ref `refs/notes/fairnad/{outcome.Run}`. ");
        text.Append(Invariant, $"Show a lineage with `./build.sh Lineage --candidate <id> --run {outcome.Run}`.\n");
        return text.ToString();

        static string Row(CandidateRecord c) => string.Create(Invariant,
            $"| {c.Index} | `{c.Candidate[..12]}` | {c.MutationType} | {c.Attribute ?? "-"} | {c.Validation:F2}{(c.Rung > 0 ? $" (rung {c.Rung})" : string.Empty)} | {c.Test:F2} | {c.Parameters:N0} | {c.Macs:N0} | `{c.Commit[..10]}` |\n");
    }

}
