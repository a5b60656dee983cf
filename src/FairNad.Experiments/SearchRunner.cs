using System.Diagnostics;
using System.Globalization;
using FairNad.Architecture;
using FairNad.Evaluation.Isolation;
using FairNad.Evaluation.Training;
using FairNad.Knowledge;
using FairNad.Lineage;
using FairNad.Search;

namespace FairNad.Experiments;

/// <summary>Everything a search run needs, assembled by <see cref="SearchSession"/> (or by a test).</summary>
/// <param name="Experiment">The effective experiment (overrides applied).</param>
/// <param name="Seed">This run's seed: the strategy's, and every candidate's training seed.</param>
/// <param name="RunDirectory">results/&lt;run&gt;.</param>
/// <param name="ExperimentPath">Where the experiment file lives, as committed in the lineage root (repository-relative).</param>
/// <param name="Resume">Continue the run recorded in <paramref name="RunDirectory"/> rather than start one.</param>
public sealed record SearchContext(
    Experiment Experiment,
    int Seed,
    string Run,
    string RunDirectory,
    string ExperimentPath,
    AttributeTree Tree,
    LineageStore Lineage,
    ICandidateEvaluator Evaluator,
    Func<ArchitectureSpace, ILlmMutator<ArchitectureSpec>>? Llm,
    RunManifestDocument Manifest,
    bool Resume,
    Action<string>? Log = null);

/// <summary>What the run looks like after each finished candidate, for live progress.</summary>
public sealed record SearchProgress(
    string Run,
    int Done,
    int Budget,
    JournalEntry Latest,
    bool Replayed,
    JournalEntry? Best,
    IReadOnlyList<JournalEntry> Front,
    IReadOnlyDictionary<string, int> Failures,
    TimeSpan Elapsed,
    TimeSpan? Remaining);

/// <summary>The finished run: every candidate in index order, the best, the front, and why it stopped.</summary>
public sealed record SearchOutcome(
    string Run,
    string RunDirectory,
    IReadOnlyList<JournalEntry> Candidates,
    JournalEntry? Best,
    IReadOnlyList<JournalEntry> Front,
    string StopReason,
    int Duplicates,
    IReadOnlyList<FailedMutation> FailedMutations,
    FeedbackLedger? Feedback);

/// <summary>
/// Runs a search: asks the strategy for a batch of candidates, evaluates them (in parallel, in workers), records each
/// as it finishes (result file, lineage commit and metrics note, journal line), then tells the strategy in batch order.
/// Batches are fixed by the experiment, not by the number of workers, so the candidates, commits and metrics depend only
/// on the experiment and seed. Resuming replays the strategy from the start and takes the outcome of every candidate the
/// journal already holds, so a killed run continues to the same result as an uninterrupted one.
/// </summary>
public static class SearchRunner
{
    public static IAskTellStrategy<ArchitectureSpec> CreateStrategy(Experiment experiment, int seed, ArchitectureSpace space, ILlmMutator<ArchitectureSpec>? llm) => experiment.Strategy switch
    {
        "random" => new RandomSearch<ArchitectureSpec>(space, seed),
        "rea" => new RegularizedEvolution<ArchitectureSpec>(space, seed, experiment.Population, experiment.Tournament),
        _ => new FairNadStrategy<ArchitectureSpec>(space,
            new FairNadOptions(experiment.Mutation.Effective(experiment.DisabledMutations), experiment.Population, experiment.Tournament, experiment.Strategy != "fairnad-no-feedback"),
            seed, experiment.DisabledMutations.Contains(MutationTypes.Llm) ? null : llm, experiment.Strategy),
    };

    public static async Task<SearchOutcome> RunAsync(SearchContext context, Action<SearchProgress>? progress = null, CancellationToken cancel = default)
    {
        var e = context.Experiment;
        var seeds = ArchitectureSpace.ScaledReferences(e.References, e.Input, e.ParameterBudget);
        var space = new ArchitectureSpace(context.Tree, seeds, e.ParameterBudget);
        var inner = CreateStrategy(e, context.Seed, space, context.Llm?.Invoke(space));
        var strategy = new Deduplicating<ArchitectureSpec>(inner);
        Directory.CreateDirectory(Path.Combine(context.RunDirectory, "candidates"));
        context.Manifest.WriteOrCheck(Path.Combine(context.RunDirectory, "manifest.json"), context.Resume);
        context.Lineage.CreateRun(new RunManifest(context.Run, context.Seed, context.ExperimentPath, e.LineageJson(context.Seed), context.Tree.Write()));

        using var journal = RunJournal.Open(Path.Combine(context.RunDirectory, RunJournal.FileName), context.Run);
        if (journal.Repaired is { } repaired)
        {
            context.Log?.Invoke(repaired);
        }

        var recorded = journal.Entries;
        if (recorded.Count > 0)
        {
            // Trust nothing the journal says until the result documents and the git record say the same.
            var findings = RunAudit.CrossCheck(context.RunDirectory, context.Run, [.. recorded.Values], context.Lineage);
            if (findings.Count > 0)
            {
                throw new ExperimentException(
                    $"run {context.Run} cannot be resumed: its records disagree ({findings.Count} finding(s)):\n  " + string.Join("\n  ", findings) +
                    $"\nNothing was changed. `fairnad lineage verify --run {context.Run}` lists every check.");
            }
        }

        var priorElapsed = recorded.Count == 0 ? 0 : recorded.Values.Max(x => x.ElapsedSeconds);
        var clock = Stopwatch.StartNew();
        var done = new List<JournalEntry>();
        var evaluatedHere = 0;
        var gate = new Lock();
        string stop;

        while (true)
        {
            if (done.Count >= e.Candidates)
            {
                stop = $"candidate budget of {e.Candidates} reached";
                break;
            }

            if (e.Minutes is { } minutes && priorElapsed + clock.Elapsed.TotalSeconds >= minutes * 60)
            {
                stop = string.Create(CultureInfo.InvariantCulture, $"time budget of {minutes} minute(s) reached");
                break;
            }

            var batch = new List<Proposal<ArchitectureSpec>>();
            while (batch.Count < e.Batch && done.Count + batch.Count < e.Candidates && await strategy.AskAsync(cancel).ConfigureAwait(false) is { } proposal)
            {
                batch.Add(proposal);
            }

            if (batch.Count == 0)
            {
                stop = "the strategy has nothing more to propose";
                break;
            }

            var entries = new JournalEntry[batch.Count];
            var evaluated = new EvaluationResult?[batch.Count];
            var replayed = new JournalEntry?[batch.Count];
            var next = 0;

            // Records finished candidates in batch order, so the journal, the lineage and the progress lines come out in the
            // same order whichever worker finishes first. Each record is, in this order and each step durable before the
            // next: result document, lineage commit and metrics note, journal line. A kill between steps leaves a candidate
            // the journal does not list, which a resumed run evaluates again and records identically.
            void RecordInOrder()
            {
                for (; next < batch.Count && (evaluated[next] is not null || replayed[next] is not null); next++)
                {
                    var index = done.Count + next;
                    if (replayed[next] is { } known)
                    {
                        entries[next] = known;
                        Report(context, progress, index + 1, known, replayed: true, done, entries, priorElapsed + clock.Elapsed.TotalSeconds, null);
                        continue;
                    }

                    var result = evaluated[next]!;
                    evaluatedHere++;
                    result.WriteAtomically(RunAudit.ResultPath(context.RunDirectory, batch[next].Key));
                    CrashPoints.Reach("after-result");
                    var entry = Record(context, batch[next], index, result, priorElapsed + clock.Elapsed.TotalSeconds);
                    CrashPoints.Reach("after-commit");
                    entries[next] = journal.Append(entry);
                    CrashPoints.Reach("after-journal");
                    var perCandidate = clock.Elapsed.TotalSeconds / evaluatedHere;
                    Report(context, progress, index + 1, entries[next], replayed: false, done, entries, priorElapsed + clock.Elapsed.TotalSeconds,
                        TimeSpan.FromSeconds(perCandidate * (e.Candidates - index - 1)));
                }
            }

            using var slots = new SemaphoreSlim(Math.Max(1, context.Evaluator.Parallelism));
            var work = batch.Select(async (proposal, i) =>
            {
                if (recorded.TryGetValue(proposal.Key, out var known))
                {
                    var check = Check(known, proposal, done.Count + i, context);
                    lock (gate)
                    {
                        replayed[i] = check;
                        RecordInOrder();
                    }

                    return;
                }

                await slots.WaitAsync(cancel).ConfigureAwait(false);
                EvaluationResult result;
                try
                {
                    result = await context.Evaluator.EvaluateAsync(proposal.Candidate, RunAudit.ResultPath(context.RunDirectory, proposal.Key), cancel).ConfigureAwait(false);
                }
                finally
                {
                    slots.Release();
                }

                lock (gate)
                {
                    evaluated[i] = result;
                    RecordInOrder();
                }
            }).ToList();
            await Task.WhenAll(work).ConfigureAwait(false);

            for (var i = 0; i < batch.Count; i++)
            {
                strategy.Tell(batch[i], ToOutcome(entries[i], e.CostObjective));
            }

            done.AddRange(entries);
            if (inner is FairNadStrategy<ArchitectureSpec> fair)
            {
                RunReports.WriteFeedback(Path.Combine(context.RunDirectory, "feedback.json"), fair.Feedback, fair.FailedMutations);
            }
        }

        var front = Front(done, e.CostObjective);
        var best = done.Where(x => x.Ok).OrderByDescending(x => x.Validation).ThenBy(x => x.Index).FirstOrDefault();
        var outcome = new SearchOutcome(context.Run, context.RunDirectory, done, best, front, stop, strategy.Duplicates,
            inner is FairNadStrategy<ArchitectureSpec> f ? f.FailedMutations : [], (inner as FairNadStrategy<ArchitectureSpec>)?.Feedback);
        RunReports.WriteSummary(Path.Combine(context.RunDirectory, "summary.md"), context, outcome);
        return outcome;
    }

    public static Outcome ToOutcome(JournalEntry entry, string costObjective) =>
        entry.Ok ? new Outcome(entry.Validation, costObjective == "macs" ? entry.Macs : entry.Parameters) : Outcome.Failed(entry.FailureCategory ?? "failed");

    public static IReadOnlyList<JournalEntry> Front(IEnumerable<JournalEntry> entries, string costObjective)
    {
        var ok = entries.Where(x => x.Ok).ToDictionary(x => x.Candidate, StringComparer.Ordinal);
        return ParetoFront.Front(ok.Values.Select(x => new Objectives(x.Candidate, x.Validation!.Value, (costObjective == "macs" ? x.Macs : x.Parameters) ?? 0)))
            .Select(p => ok[p.Id]).ToList();
    }

    /// <summary>A journal entry replayed on resume must be the candidate the strategy proposes now, at the same place.</summary>
    private static JournalEntry Check(JournalEntry known, Proposal<ArchitectureSpec> proposal, int index, SearchContext context) =>
        known.Index == index && known.MutationType == proposal.MutationType && known.Parents.SequenceEqual(proposal.Parents)
            ? known
            : throw new ExperimentException(
                $"{Path.Combine(context.RunDirectory, "journal.jsonl")}: candidate {proposal.Key[..12]} was recorded as #{known.Index} ({known.MutationType}) but the strategy now proposes it as #{index} ({proposal.MutationType}); " +
                "the experiment, the knowledge or the harness changed since the run started, so it cannot be resumed");

    private static JournalEntry Record(SearchContext context, Proposal<ArchitectureSpec> proposal, int index, EvaluationResult result, double elapsed)
    {
        var analysis = ArchitectureAnalyzer.Analyze(proposal.Candidate);
        var stored = context.Lineage.Add(context.Run, new CandidateEntry(index, proposal.Candidate, proposal.Parents, proposal.MutationType, proposal.Attribute, proposal.Transcript, proposal.Summary));
        var ok = result.Status == "ok";
        var fidelity = context.Experiment.Fidelity;
        context.Lineage.SetMetrics(context.Run, proposal.Key, new CandidateMetrics(
            ok ? "ok" : "failed",
            result.BestValidationAccuracy,
            result.TestAccuracy,
            analysis.Parameters,
            analysis.Macs,
            result.LatencyBatch1Ms,
            ok ? null : $"{result.FailureCategory}: {result.FailureMessage}",
            string.Create(CultureInfo.InvariantCulture, $"{context.Experiment.Dataset} {fidelity.Epochs} epoch(s), {fidelity.TrainSubset?.ToString(CultureInfo.InvariantCulture) ?? "all"} training images"),
            string.IsNullOrEmpty(result.WorkerHost) ? null : result.WorkerHost,
            new Dictionary<string, double> { ["trainSeconds"] = result.TrainSeconds, ["lastValidationAccuracy"] = result.LastValidationAccuracy ?? double.NaN }
                .Where(kv => !double.IsNaN(kv.Value)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal)));
        return new JournalEntry(index, proposal.Key, proposal.MutationType, proposal.Attribute, proposal.Category, proposal.Parents, proposal.Transcript, proposal.Summary,
            ok ? "ok" : "failed", result.BestValidationAccuracy, result.TestAccuracy, analysis.Parameters, analysis.Macs, result.LatencyBatch1Ms,
            ok ? null : result.FailureCategory, ok ? null : result.FailureMessage, stored.Commit, result.TrainSeconds, elapsed);
    }

    private static void Report(SearchContext context, Action<SearchProgress>? progress, int finished, JournalEntry latest, bool replayed,
        IReadOnlyList<JournalEntry> done, IReadOnlyList<JournalEntry?> batch, double elapsed, TimeSpan? remaining)
    {
        if (progress is null)
        {
            return;
        }

        var all = done.Concat(batch.OfType<JournalEntry>()).ToList();
        var best = all.Where(x => x.Ok).OrderByDescending(x => x.Validation).ThenBy(x => x.Index).FirstOrDefault();
        var failures = all.Where(x => !x.Ok).GroupBy(x => x.FailureCategory ?? "failed").OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        progress(new SearchProgress(context.Run, finished, context.Experiment.Candidates, latest, replayed, best, Front(all, context.Experiment.CostObjective), failures,
            TimeSpan.FromSeconds(elapsed), remaining));
    }
}
