using System.Diagnostics;
using System.Globalization;
using FairNad.Architecture;
using FairNad.Evaluation.Isolation;
using FairNad.Evaluation.Training;
using FairNad.Lineage;
using FairNad.Search;

namespace FairNad.Experiments;

/// <summary>One proposal on its way through the loop: asked at <see cref="Index"/>, evaluated or taken from the journal, then recorded and told.</summary>
public sealed class Trial(int index, Proposal<ArchitectureSpec> proposal)
{
    /// <summary>The candidate's place in the run (0-based, in the order the strategy proposed it).</summary>
    public int Index { get; } = index;

    public Proposal<ArchitectureSpec> Proposal { get; } = proposal;

    public string Key => Proposal.Key;

    /// <summary>What the evaluator returned; null for a trial the journal already holds.</summary>
    public EvaluationResult? Result { get; set; }

    /// <summary>The candidate's record: the journal's on replay, else the recorder's once it is recorded.</summary>
    public CandidateRecord? Record { get; set; }

    /// <summary>Whether the journal held it (a resumed run), so it was neither evaluated nor recorded again.</summary>
    public bool Replayed { get; set; }

    /// <summary>The ladder rung it trains at: 0 for a new candidate, higher for a promotion (<see cref="SuccessiveHalvingLink"/>).</summary>
    public int Rung { get; init; }

    /// <summary>For a noise measurement (<see cref="NoiseMeasurementLink"/>), the offset added to the run's training seed; else 0.</summary>
    public int NoiseSeed { get; init; }

    /// <summary>Asked by a scheduler (a promotion or a noise measurement) rather than proposed by the strategy: no budget counts it.</summary>
    public bool Scheduled => Rung > 0 || NoiseSeed != 0;
}

/// <summary>
/// The search loop as a chain of links (NNI's Chain, middleware): the runner asks the chain for trials, has it evaluate
/// them and tells it each finished one in batch order; each link adds one concern and hands the rest to the next, down to
/// the strategy at the end. <see cref="EndBatch"/> follows the last tell of a batch.
/// </summary>
public interface ISearchChain
{
    /// <summary>The next trial, or null when the search stops here (a budget, or the strategy has nothing to propose).</summary>
    ValueTask<Trial?> AskAsync(CancellationToken cancel);

    /// <summary>Sets <see cref="Trial.Result"/> or <see cref="Trial.Record"/>; may run concurrently for the trials of a batch.</summary>
    Task EvaluateAsync(Trial trial, CancellationToken cancel);

    /// <summary>The trial is finished; called one at a time, in batch order.</summary>
    void Tell(Trial trial);

    void EndBatch();
}

/// <summary>A link that passes everything to the next one; links override what they add.</summary>
public abstract class SearchLink : ISearchChain
{
    private ISearchChain? _next;

    protected ISearchChain Next => _next ?? throw new InvalidOperationException($"{GetType().Name} is not linked to a next link");

    public virtual ValueTask<Trial?> AskAsync(CancellationToken cancel) => Next.AskAsync(cancel);

    public virtual Task EvaluateAsync(Trial trial, CancellationToken cancel) => Next.EvaluateAsync(trial, cancel);

    public virtual void Tell(Trial trial) => Next.Tell(trial);

    public virtual void EndBatch() => Next.EndBatch();

    internal void Link(ISearchChain next) => _next = next;
}

/// <summary>Builds a chain from its links, outermost first; the last one ends it.</summary>
public static class SearchChain
{
    public static ISearchChain Of(params IReadOnlyList<ISearchChain> links)
    {
        for (var i = 0; i < links.Count - 1; i++)
        {
            (links[i] as SearchLink ?? throw new ArgumentException($"link {i} ({links[i].GetType().Name}) cannot pass on to a next link")).Link(links[i + 1]);
        }

        return links[0];
    }
}

/// <summary>The end of the chain: the (deduplicated) strategy proposes and is told outcomes; the evaluator evaluates, at most its parallelism at once.</summary>
/// <param name="evaluatorAt">
/// The evaluator of a rung and noise seed (<see cref="Trial.Rung"/>, <see cref="Trial.NoiseSeed"/>); null: every trial is
/// a first evaluation at the experiment's fidelity, by <paramref name="evaluator"/>. All share the slots of <paramref name="evaluator"/>'s parallelism.
/// </param>
public sealed class StrategyLink(IAskTellStrategy<ArchitectureSpec> strategy, ICandidateEvaluator evaluator, string costObjective, Func<int, int, ICandidateEvaluator>? evaluatorAt = null) : ISearchChain
{
    private readonly SemaphoreSlim _slots = new(Math.Max(1, evaluator.Parallelism));
    private int _next;

    public async ValueTask<Trial?> AskAsync(CancellationToken cancel) =>
        await strategy.AskAsync(cancel).ConfigureAwait(false) is { } proposal ? new Trial(_next++, proposal) : null;

    public async Task EvaluateAsync(Trial trial, CancellationToken cancel)
    {
        await _slots.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            var at = trial.Scheduled ? evaluatorAt?.Invoke(trial.Rung, trial.NoiseSeed) ?? throw new InvalidOperationException($"no evaluator for rung {trial.Rung}, noise seed {trial.NoiseSeed}") : evaluator;
            trial.Result = await at.EvaluateAsync(trial.Proposal.Candidate, cancel).ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>
    /// Every evaluation failure is an outcome of the candidate by now (failures of the machine stopped the run before
    /// recording): the strategy hears the record. A promotion's valid result is told as the candidate's new outcome (the
    /// highest rung's); a promotion that failed is not (the strategy keeps the lower rung's result), and a noise
    /// measurement is no search step, so the strategy never hears of it.
    /// </summary>
    public void Tell(Trial trial)
    {
        var outcome = trial.Record!.ToOutcome(costObjective);
        if (trial.NoiseSeed != 0 || (trial.Rung > 0 && !outcome.Ok))
        {
            return;
        }

        strategy.Tell(trial.Proposal, outcome);
    }

    public void EndBatch()
    {
    }
}

/// <summary>The run's clock: seconds recorded by earlier runners of the run plus this one's.</summary>
public sealed class RunClock(double priorSeconds)
{
    private readonly Stopwatch _here = Stopwatch.StartNew();

    /// <summary>This runner's time.</summary>
    public TimeSpan Here => _here.Elapsed;

    public double ElapsedSeconds => priorSeconds + _here.Elapsed.TotalSeconds;
}

/// <summary>
/// The budgets: no trial past the candidate budget; none started past the time budget (checked when a batch begins, that
/// is, when every trial asked has been told). <see cref="StopReason"/> says why the last ask came back empty.
/// </summary>
public sealed class BudgetLimit(int candidates, double? minutes, RunClock clock) : SearchLink
{
    private int _asked;
    private int _told;

    public string StopReason { get; private set; } = "the strategy has nothing more to propose";

    /// <summary>Whether the time budget is spent: no scheduled trial (promotion, noise measurement) starts then either.</summary>
    public bool TimeUp => minutes is { } m && clock.ElapsedSeconds >= m * 60;

    public override async ValueTask<Trial?> AskAsync(CancellationToken cancel)
    {
        if (_asked >= candidates)
        {
            StopReason = $"candidate budget of {candidates} reached";
            return null;
        }

        if (_asked == _told && minutes is { } m && clock.ElapsedSeconds >= m * 60)
        {
            StopReason = string.Create(CultureInfo.InvariantCulture, $"time budget of {m} minute(s) reached");
            return null;
        }

        if (await Next.AskAsync(cancel).ConfigureAwait(false) is not { } trial)
        {
            StopReason = "the strategy has nothing more to propose";
            return null;
        }

        _asked++;
        return trial;
    }

    public override void Tell(Trial trial)
    {
        // Scheduled trials were never asked through this link: they count against neither budget.
        _told += trial.Scheduled ? 0 : 1;
        Next.Tell(trial);
    }
}

/// <summary>
/// Resuming: a trial the journal already holds is not evaluated again; its recorded outcome is taken, after checking that
/// the strategy proposes it at the same place as it was recorded (else the experiment, knowledge or harness changed).
/// </summary>
public sealed class JournalReplay(IReadOnlyDictionary<string, CandidateRecord> recorded, string journalPath) : SearchLink
{
    public override Task EvaluateAsync(Trial trial, CancellationToken cancel)
    {
        if (!recorded.TryGetValue(RunJournal.Key(trial.Key, trial.Rung, trial.NoiseSeed), out var known))
        {
            return Next.EvaluateAsync(trial, cancel);
        }

        var proposal = trial.Proposal;
        trial.Record = known.Index == trial.Index && known.MutationType == proposal.MutationType && known.Parents.SequenceEqual(proposal.Parents)
            ? known
            : throw new ExperimentException(
                $"{journalPath}: candidate {proposal.Key[..12]} was recorded as #{known.Index} ({known.MutationType}) but the strategy now proposes it as #{trial.Index} ({proposal.MutationType}); " +
                "the experiment, the knowledge or the harness changed since the run started, so it cannot be resumed");
        trial.Replayed = true;
        return Task.CompletedTask;
    }
}

/// <summary>The run's records so far, in the order they were told (replayed ones included), and how many this runner evaluated.</summary>
public sealed class RunTally
{
    private readonly List<CandidateRecord> _records = [];

    public IReadOnlyList<CandidateRecord> Records => _records;

    public int EvaluatedHere { get; private set; }

    internal void Add(CandidateRecord record, bool evaluatedHere)
    {
        _records.Add(record);
        EvaluatedHere += evaluatedHere ? 1 : 0;
    }
}

/// <summary>Records each evaluated trial durably (<see cref="RunRecorder.Record"/>) before anything later in the chain, the strategy included, hears of it.</summary>
public sealed class Recording(RunRecorder recorder, RunClock clock, RunTally tally) : SearchLink
{
    public override void Tell(Trial trial)
    {
        if (!trial.Replayed)
        {
            trial.Record = recorder.Record(trial.Proposal, trial.Index, trial.Result!, clock.ElapsedSeconds, trial.Rung, trial.NoiseSeed);
        }

        tally.Add(trial.Record!, !trial.Replayed);
        Next.Tell(trial);
    }
}

/// <summary>Something that watches the loop without changing it.</summary>
public interface ITrialObserver
{
    void Told(Trial trial);

    void BatchEnded();
}

/// <summary>Tells observers each recorded trial and each finished batch.</summary>
public sealed class Observing(params IReadOnlyList<ITrialObserver> observers) : SearchLink
{
    public override void Tell(Trial trial)
    {
        foreach (var observer in observers)
        {
            observer.Told(trial);
        }

        Next.Tell(trial);
    }

    public override void EndBatch()
    {
        Next.EndBatch();
        foreach (var observer in observers)
        {
            observer.BatchEnded();
        }
    }
}

/// <summary>Live progress after each candidate: done / budget, best so far, the front, failures by category, time remaining.</summary>
public sealed class ProgressReport(SearchContext context, RunTally tally, RunClock clock, Action<SearchProgress>? progress) : ITrialObserver
{
    public void Told(Trial trial)
    {
        if (progress is null)
        {
            return;
        }

        var e = context.Experiment;
        var all = tally.Records;
        TimeSpan? remaining = trial.Replayed ? null : TimeSpan.FromSeconds(clock.Here.TotalSeconds / tally.EvaluatedHere * (e.Candidates - trial.Index - 1));
        progress(new SearchProgress(context.Run, trial.Index + 1, e.Candidates, trial.Record!, trial.Replayed, RunArchive.BestOf(all), RunArchive.Front(all, e.CostObjective),
            RunArchive.Failures(all), TimeSpan.FromSeconds(clock.ElapsedSeconds), remaining, context.LlmSession?.Ledger.Total));
    }

    public void BatchEnded()
    {
    }
}

/// <summary>feedback.json after each batch, from the strategy's diagnostics (strategies without them write none).</summary>
public sealed class FeedbackReport(RunArchive archive, IStrategyDiagnostics? diagnostics) : ITrialObserver
{
    public void Told(Trial trial)
    {
    }

    public void BatchEnded()
    {
        if (diagnostics is not null)
        {
            archive.WriteFeedback(diagnostics.Feedback, diagnostics.FailedMutations, diagnostics.MutationCredit);
        }
    }
}

/// <summary>
/// The only writer of a run's record. Opening it writes (or checks, on resume) the manifest and the lineage root, opens the
/// journal (cutting off a torn last line) and, on resume, refuses unless journal, result documents and git record agree.
/// Each candidate is then recorded in four durable steps, each on disk before the next: result document, lineage commit,
/// metrics note, journal line. A kill between steps leaves a candidate the journal does not list, which a resumed run
/// evaluates again and records identically.
/// </summary>
public sealed class RunRecorder : IDisposable
{
    private readonly SearchContext _context;
    private readonly RunJournal _journal;

    private RunRecorder(SearchContext context, RunJournal journal)
    {
        _context = context;
        _journal = journal;
        Recorded = journal.Entries;
        PriorElapsedSeconds = Recorded.Count == 0 ? 0 : Recorded.Values.Max(x => x.ElapsedSeconds);
    }

    /// <summary>What the journal held when the run was opened, by candidate id.</summary>
    public IReadOnlyDictionary<string, CandidateRecord> Recorded { get; }

    /// <summary>The run's time before this runner: the last elapsed time the journal records.</summary>
    public double PriorElapsedSeconds { get; }

    /// <exception cref="ExperimentException">the manifest differs from the recorded one, the journal is damaged, or the records disagree.</exception>
    public static RunRecorder Open(SearchContext context)
    {
        var archive = context.Archive;
        var e = context.Experiment;
        Directory.CreateDirectory(archive.CandidatesDirectory);
        context.Manifest.WriteOrCheck(archive.ManifestPath, context.Resume);
        // A fresh run records in the manifest's lineage layout; a resumed one keeps its root's (CreateRun reads it).
        context.Lineage.CreateRun(new RunManifest(context.Run, context.Seed, context.ExperimentPath, e.LineageJson(context.Seed), context.Tree.Write())
        {
            Format = context.Resume ? null : context.Manifest.Content["lineage"]?["format"]?.GetValue<int>(),
        });
        var journal = archive.OpenJournal();
        try
        {
            if (journal.Repaired is { } repaired)
            {
                context.Log?.Invoke(repaired);
            }

            var recorder = new RunRecorder(context, journal);
            if (recorder.Recorded.Count > 0)
            {
                // Trust nothing the journal says until the result documents and the git record say the same.
                var findings = RunAudit.CrossCheck(archive.Directory, context.Run, [.. recorder.Recorded.Values], context.Lineage);
                if (findings.Count > 0)
                {
                    throw new ExperimentException(
                        $"run {context.Run} cannot be resumed: its records disagree ({findings.Count} finding(s)):\n  " + string.Join("\n  ", findings) +
                        $"\nNothing was changed. `fairnad lineage verify --run {context.Run}` lists every check.");
                }
            }

            return recorder;
        }
        catch
        {
            journal.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The candidate's analysis, with its LLM-written operators' costs from the run's table (measured when the mutation
    /// verified it); what the table lacks is reported in the log and leaves the record's parameters and MACs unknown.
    /// </summary>
    private ArchitectureAnalysis Analyze(ArchitectureSpec candidate)
    {
        if (OperatorSources.References(candidate).Count == 0)
        {
            return ArchitectureAnalyzer.Analyze(candidate);
        }

        var analysis = ArchitectureAnalyzer.Analyze(candidate, OperatorCostTable.Load(Path.Combine(_context.Archive.Directory, OperatorSources.Folder)));
        if (analysis.Unmeasured.Count > 0)
        {
            _context.Log?.Invoke($"{candidate.Id[..12]}: no measured cost for {string.Join("; ", analysis.Unmeasured)}; its parameters and MACs are recorded as unknown");
        }

        return analysis;
    }

    /// <summary>Records an evaluated candidate; returns its record as the journal holds it.</summary>
    /// <param name="rung">The ladder rung it trained at: rung 0's note goes to the run's notes ref, a later rung's to <see cref="LineageLayout.RungNotesRef"/>.</param>
    /// <param name="noiseSeed">For a noise measurement, the seed offset: recorded in the journal and a result document of its own, with no note.</param>
    public CandidateRecord Record(Proposal<ArchitectureSpec> proposal, int index, EvaluationResult result, double elapsedSeconds, int rung = 0, int noiseSeed = 0)
    {
        _context.Archive.WriteResult(proposal.Key, result, rung, noiseSeed);
        CrashPoints.Reach("after-result");
        var record = CandidateRecord.Of(proposal, index, result, Analyze(proposal.Candidate), elapsedSeconds, rung, noiseSeed);

        // A later rung or a noise seed finds the candidate's commit there already (recording it again is a no-op).
        var stored = _context.Lineage.Add(_context.Run, new CandidateEntry(index, proposal.Candidate, proposal.Parents, proposal.MutationType, proposal.Attribute, proposal.Transcript, proposal.Summary)
        {
            Operators = new OperatorStore(Path.Combine(_context.Archive.Directory, OperatorSources.Folder)).For(proposal.Candidate),
        });
        if (noiseSeed == 0)
        {
            // One note per rung, each written once: the first evaluation's in the run's notes ref, a later rung's in its own.
            _context.Lineage.SetMetrics(_context.Run, proposal.Key, record.ToNote(_context.Experiment, result), rung == 0 ? null : rung);
        }

        CrashPoints.Reach("after-commit");
        var journaled = _journal.Append(record with { Commit = stored.Commit });
        CrashPoints.Reach("after-journal");
        return journaled;
    }

    public void Dispose() => _journal.Dispose();
}
