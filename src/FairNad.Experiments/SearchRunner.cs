using FairNad.Architecture;
using FairNad.Knowledge;
using FairNad.Lineage;
using FairNad.Search;

namespace FairNad.Experiments;

/// <summary>Everything a search run needs, assembled by <see cref="SearchSession"/> (or by a test).</summary>
/// <param name="Experiment">The effective experiment (overrides applied).</param>
/// <param name="Seed">This run's seed: the strategy's, and every candidate's training seed.</param>
/// <param name="Archive">The run folder, results/&lt;run&gt;.</param>
/// <param name="ExperimentPath">Where the experiment file lives, as committed in the lineage root (repository-relative).</param>
/// <param name="Space">The architectures the strategy searches (the seed references scaled to the budget).</param>
/// <param name="Llm">The LLM mutator, when the strategy uses one and the LLM is on.</param>
/// <param name="Resume">Continue the run recorded in <paramref name="Archive"/> rather than start one.</param>
/// <param name="EvaluatorAt">The evaluator of a ladder rung and noise seed (the experiment's ladder and noise need it); <see cref="Evaluator"/> evaluates rung 0 with the run's seed.</param>
public sealed record SearchContext(
    Experiment Experiment,
    int Seed,
    RunArchive Archive,
    string ExperimentPath,
    AttributeTree Tree,
    LineageStore Lineage,
    ICandidateEvaluator Evaluator,
    ArchitectureSpace Space,
    ILlmMutator<ArchitectureSpec>? Llm,
    RunManifestDocument Manifest,
    bool Resume,
    Action<string>? Log = null,
    FairNad.Llm.LlmSession? LlmSession = null,
    Func<int, int, ICandidateEvaluator>? EvaluatorAt = null,
    int SearchRules = FairNadOptions.CurrentRules)
{
    public string Run => Archive.Run;

    public string RunDirectory => Archive.Directory;
}

/// <summary>What the run looks like after each finished candidate, for live progress.</summary>
public sealed record SearchProgress(
    string Run,
    int Done,
    int Budget,
    CandidateRecord Latest,
    bool Replayed,
    CandidateRecord? Best,
    IReadOnlyList<CandidateRecord> Front,
    IReadOnlyDictionary<string, int> Failures,
    TimeSpan Elapsed,
    TimeSpan? Remaining,
    FairNad.Llm.LedgerEntry? Llm = null);

/// <summary>The finished run: every candidate in index order (each once, at the highest rung it reached), the best, the front, and why it stopped.</summary>
public sealed record SearchOutcome(
    string Run,
    string RunDirectory,
    IReadOnlyList<CandidateRecord> Candidates,
    CandidateRecord? Best,
    IReadOnlyList<CandidateRecord> Front,
    string StopReason,
    int Duplicates,
    IReadOnlyList<FailedMutation> FailedMutations,
    FeedbackLedger? Feedback,
    IReadOnlyList<FairNad.Llm.LedgerEntry>? LlmUse = null,
    IReadOnlyList<CandidateRecord>? Evaluations = null,
    IReadOnlyList<MutationCredit>? MutationCredit = null)
{
    /// <summary>Every evaluation in the order it was recorded: with a ladder or noise measurement, more than <see cref="Candidates"/>.</summary>
    public IReadOnlyList<CandidateRecord> AllEvaluations => Evaluations ?? Candidates;
}

/// <summary>
/// Runs a search: asks the chain (<see cref="SearchChain"/>) for a batch of trials, has them evaluated (in parallel, in
/// workers) and tells the chain each one in batch order as soon as it and those before it are done. Everything else is a
/// link of the chain: the budgets, the journal's replay on resume, the durable record of each candidate, progress and
/// feedback, deduplication and the strategy. Batches are fixed by the experiment, not by the number of workers, so the
/// candidates, commits and metrics depend only on the experiment and seed; resuming replays the strategy from the start
/// and takes the outcome of every candidate the journal already holds, so a killed run continues to the same result as an
/// uninterrupted one.
/// </summary>
public static class SearchRunner
{
    public static async Task<SearchOutcome> RunAsync(SearchContext context, Action<SearchProgress>? progress = null, CancellationToken cancel = default)
    {
        var e = context.Experiment;
        // With space.baselinesFromSeeds the baselines start from FairNAD's seed population (the space draws nothing for it).
        var baselineSeeds = e.Space?.BaselinesFromSeeds == true ? context.Space.InitialPopulation(new Random(0)) : null;
        var inner = e.Choice.Create(context.Space, context.Seed, e.Mutation, e.Population, e.Tournament, context.Llm, baselineSeeds, context.SearchRules);
        var strategy = new Deduplicating<ArchitectureSpec>(inner);
        var diagnostics = inner as IStrategyDiagnostics;
        using var recorder = RunRecorder.Open(context);
        var clock = new RunClock(recorder.PriorElapsedSeconds);
        var tally = new RunTally();
        var budget = new BudgetLimit(e.Candidates, e.Minutes, clock);

        // The fidelity schedulers are links outside the budget: what they ask for is no new candidate. Without a ladder
        // or noise measurement the chain is what it always was.
        var links = new List<ISearchChain>();
        if (e.Ladder is { } ladder)
        {
            links.Add(new SuccessiveHalvingLink(new SuccessiveHalving(ladder.Rungs.Count, ladder.Promote), budget));
        }

        var noise = e.Noise is { } n ? new NoiseMeasurementLink(n, e.RungCount, diagnostics?.Feedback, budget) : null;
        if (noise is not null)
        {
            links.Add(noise);
        }

        links.AddRange(
        [
            budget,
            new JournalReplay(recorder.Recorded, context.Archive.JournalPath),
            new Recording(recorder, clock, tally),
            new Observing(new ProgressReport(context, tally, clock, progress), new FeedbackReport(context.Archive, diagnostics)),
            new StrategyLink(strategy, context.Evaluator, e.CostObjective, context.EvaluatorAt),
        ]);
        var chain = SearchChain.Of(links);

        var llmUseRecorded = false;
        void RecordLlmUse()
        {
            if (context.LlmSession is { } llm && !llmUseRecorded)
            {
                llmUseRecorded = true;
                context.Archive.RecordLlmUse(llm.Ledger.Entries, llm.Models);
            }
        }

        try
        {
            while (true)
            {
                var batch = new List<Trial>();
                while (batch.Count < e.Batch && await chain.AskAsync(cancel).ConfigureAwait(false) is { } trial)
                {
                    batch.Add(trial);
                }

                if (batch.Count == 0)
                {
                    break;
                }

                await EvaluateInBatchOrderAsync(chain, batch, cancel).ConfigureAwait(false);
                chain.EndBatch();
            }

            var done = tally.Records;
            RecordLlmUse();
            var outcome = new SearchOutcome(context.Run, context.RunDirectory, RunJournal.Current(done), RunArchive.BestOf(done), RunArchive.Front(done, e.CostObjective), budget.StopReason,
                strategy.Duplicates, diagnostics?.FailedMutations ?? [], diagnostics?.Feedback, context.LlmSession is null ? null : context.Archive.LlmUse(), [.. done],
                diagnostics?.MutationCredit);
            context.Archive.WriteSummary(RunReports.Summary(context, outcome));
            return outcome;
        }
        finally
        {
            // Also when the run stops (an outage, Ctrl+C): what the LLM cost up to there is worth knowing.
            RecordLlmUse();
        }
    }

    /// <summary>
    /// Evaluates the batch (the chain bounds how many at once) and tells the chain each trial in batch order as soon
    /// as it and every trial before it are done, so the journal, the lineage and the progress lines come out in the same
    /// order whichever worker finishes first.
    /// </summary>
    private static async Task EvaluateInBatchOrderAsync(ISearchChain chain, IReadOnlyList<Trial> batch, CancellationToken cancel)
    {
        var finished = new bool[batch.Count];
        var next = 0;
        var gate = new Lock();
        var work = batch.Select(async (trial, i) =>
        {
            await chain.EvaluateAsync(trial, cancel).ConfigureAwait(false);
            lock (gate)
            {
                finished[i] = true;
                for (; next < batch.Count && finished[next]; next++)
                {
                    chain.Tell(batch[next]);
                }
            }
        }).ToList();
        await Task.WhenAll(work).ConfigureAwait(false);
    }
}
