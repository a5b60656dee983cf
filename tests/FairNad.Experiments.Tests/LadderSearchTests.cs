using System.Diagnostics;
using System.Text.Json;
using FairNad.Architecture;
using FairNad.Evaluation.Isolation;
using FairNad.Evaluation.Training;
using FairNad.Lineage;
using FairNad.Search;

namespace FairNad.Experiments.Tests;

/// <summary>Searches with a fidelity ladder and noise measurement, on the table-like evaluator (fast) and trained for real (Slow).</summary>
public sealed class LadderSearchTests : IDisposable
{
    private const string RunName = "tiny-fairnad-s0";

    private readonly SearchFixture _a = new();
    private readonly SearchFixture _b = new();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    /// <summary>The tiny experiment with three rungs (the top third promoted) and noise measured on two seed architectures.</summary>
    public static Experiment Laddered => SearchFixture.Tiny with
    {
        Candidates = 12,
        Ladder = new Ladder([new Rung(1, 100), new Rung(1, 200), new Rung(2, 200)], 0.34),
        Noise = new NoiseOptions(2, 2),
    };

    /// <summary>
    /// A stand-in whose score grows with the rung's epochs and training images and moves a little with the seed, so rungs
    /// and seeds give different, reproducible numbers; <paramref name="delay"/> makes evaluations finish out of order.
    /// </summary>
    public static Func<Experiment, ICandidateEvaluator> RungAware(Func<ArchitectureSpec, int>? delay = null) => experiment => new SyntheticEvaluator(spec =>
    {
        if (delay?.Invoke(spec) is { } ms and > 0)
        {
            Thread.Sleep(ms);
        }

        var analysis = ArchitectureAnalyzer.Analyze(spec);
        var jitter = Convert.ToInt32(spec.Id[..4], 16) / 65536.0 * 10;
        var fidelity = experiment.Fidelity;
        var score = Math.Round(40 + (20.0 * analysis.Parameters / 20000) + jitter + (3 * fidelity.Epochs) + ((fidelity.TrainSubset ?? 0) / 100.0) + (0.7 * experiment.Seeds[0] % 2), 4);
        return new EvaluationResult
        {
            CandidateId = spec.Id,
            Dataset = "fashion-mnist",
            Config = fidelity.ToConfig(experiment.Seeds[0]),
            Status = "ok",
            BestValidationAccuracy = score,
            TestAccuracy = score - 0.5,
            Parameters = analysis.Parameters,
            Macs = analysis.Macs,
        };
    });

    private static IReadOnlyList<string> Evaluations(SearchOutcome outcome) => outcome.AllEvaluations.Select(e =>
        JsonSerializer.Serialize(new { e.Index, e.Candidate, e.Rung, e.NoiseSeed, e.MutationType, e.Parents, e.Status, e.Validation, e.Commit })).ToList();

    [Fact]
    public void Run_WithLadder_PromotesTopThirdPerRungAndRecordsEachRung()
    {
        _a.Write(Laddered);

        var outcome = SearchFixture.Run(_a.Request(evaluator: RungAware())).Single();

        Assert.Equal(12, outcome.Candidates.Count);
        var main = outcome.AllEvaluations.Where(e => !e.IsNoise).ToList();
        var rung1 = main.Where(e => e.Rung == 1).ToList();
        var rung2 = main.Where(e => e.Rung == 2).ToList();
        // At least the top third of 12; asynchronous promotion may promote a few more, which later results overtook.
        Assert.InRange(rung1.Count, 4, 6);
        Assert.Single(rung2);

        // Each promoted candidate was, when promoted, in the top third of the rung-0 results recorded before it.
        foreach (var promotion in rung1)
        {
            var line = outcome.AllEvaluations.ToList().IndexOf(promotion);
            var before = outcome.AllEvaluations.Take(line).Where(e => e is { Rung: 0, IsNoise: false }).OrderByDescending(e => e.Validation).ToList();
            Assert.Contains(promotion.Candidate, before.Take((int)Math.Floor((before.Count * 0.34) + 1e-9)).Select(e => e.Candidate));
        }

        // The best is the rung-2 candidate (a higher rung outranks any lower one), and the records agree everywhere.
        Assert.Equal(rung2[0].Candidate, outcome.Best!.Candidate);
        Assert.Equal(2, outcome.Best.Rung);
        using var store = LineageStore.Open(_a.Root);
        Assert.Empty(store.Verify(outcome.Run, outcome.AllEvaluations.Where(e => e is { Rung: 0, IsNoise: false }).Select(e => new RecordedCandidate(e.Index, e.Candidate, e.Commit, e.MutationType,
            e.Attribute, e.Parents, e.Transcript, e.Summary, new CandidateMetrics(e.Status, e.Validation, e.Test, e.Parameters, e.Macs))).ToList()));
        Assert.Empty(RunAudit.CrossCheck(outcome.RunDirectory, outcome.Run, outcome.AllEvaluations, store));
        var top = store.GetMetrics(outcome.Run, rung2[0].Commit, 2)!;
        Assert.Equal(rung2[0].Validation, top.ValidationAccuracy);
        Assert.StartsWith("rung 2 of 3: fashion-mnist 2 epoch(s), 200 training images", top.Fidelity, StringComparison.Ordinal);
        Assert.Equal("rung 0 of 3: fashion-mnist 1 epoch(s), 100 training images", store.GetMetrics(outcome.Run, rung2[0].Commit)!.Fidelity);
        foreach (var (rung, subset) in new[] { (0, 100), (1, 200), (2, 200) })
        {
            // Each rung trained at its own fidelity: the result documents say what was trained.
            var evaluation = outcome.AllEvaluations.First(e => e.Rung == rung && !e.IsNoise);
            var document = EvaluationResult.Parse(File.ReadAllText(RunArchive.ResultPath(outcome.RunDirectory, evaluation)), "result");
            Assert.Equal((Laddered.FidelityAt(rung).Epochs, subset), (document.Config.Epochs, document.Config.TrainSubset!.Value));
        }
        Assert.True(store.GetMetrics(outcome.Run, rung2[0].Commit)!.ValidationAccuracy < top.ValidationAccuracy);
        Assert.True(File.Exists(Path.Combine(outcome.RunDirectory, "candidates", $"{rung2[0].Candidate}.r2.json")));
        Assert.Equal(SearchFixture.Fingerprint(outcome.Candidates), SearchFixture.Fingerprint(new RunArchive(outcome.RunDirectory).Records));
    }

    [Fact]
    public void Run_PromotionsThatFail_RecordedNeverPromotedAgainAndCandidatesKeepTheirLowerRung()
    {
        _a.Write(Laddered with { Noise = null });
        var rungAware = RungAware();
        Func<Experiment, ICandidateEvaluator> failAtRung1 = experiment => experiment.Fidelity == Laddered.FidelityAt(1)
            ? new SyntheticEvaluator(spec => EvaluationResult.Failure(spec.Id, "fashion-mnist", TrainingConfig.Quick, FailureCategories.Diverged, "training loss became NaN"))
            : rungAware(experiment);

        var outcome = SearchFixture.Run(_a.Request(evaluator: failAtRung1)).Single();

        var failed = outcome.AllEvaluations.Where(e => e.Rung == 1).ToList();
        Assert.NotEmpty(failed);
        Assert.All(failed, f => Assert.Equal(FailureCategories.Diverged, f.FailureCategory));
        Assert.DoesNotContain(outcome.AllEvaluations, e => e.Rung == 2);
        Assert.All(outcome.Candidates, c => Assert.Equal((0, "ok"), (c.Rung, c.Status)));
        Assert.Equal(0, outcome.Best!.Rung);
        Assert.DoesNotContain(outcome.Front, c => c.Rung > 0);
    }

    [Fact]
    public void Run_WithLadderTwice_SameEvaluationsCommitsAndFilesEvenWhenEvaluationsFinishOutOfOrder()
    {
        _a.Write(Laddered with { Batch = 3 });
        _b.Write(Laddered with { Batch = 3 });

        var inOrder = SearchFixture.Run(_a.Request(evaluator: RungAware())).Single();
        var shuffled = SearchFixture.Run(_b.Request(evaluator: RungAware(spec => Convert.ToInt32(spec.Id[..2], 16) % 3 * 15))).Single();

        Assert.Equal(Evaluations(inOrder), Evaluations(shuffled));
        Assert.Equal(SearchFixture.RecordedFiles(inOrder.RunDirectory), SearchFixture.RecordedFiles(shuffled.RunDirectory));
    }

    [Fact]
    public void Run_WithNoise_MeasuresSeedsAtEveryRungAndFeedbackUsesTheThreshold()
    {
        _a.Write(Laddered);

        var outcome = SearchFixture.Run(_a.Request(evaluator: RungAware())).Single();

        var noise = outcome.AllEvaluations.Where(e => e.IsNoise).ToList();
        Assert.Equal(3 * 2 * 2, noise.Count); // rungs x architectures x seeds
        Assert.Equal(outcome.Candidates.Take(2).Select(c => c.Candidate).Order(), noise.Select(n => n.Candidate).Distinct().Order());
        Assert.All(noise, n => Assert.True(File.Exists(RunArchive.ResultPath(outcome.RunDirectory, n))));
        var feedback = JsonDocument.Parse(File.ReadAllText(Path.Combine(outcome.RunDirectory, "feedback.json"))).RootElement;
        var thresholds = feedback.GetProperty("noiseThreshold");
        Assert.Equal(3, thresholds.EnumerateObject().Count());
        Assert.All(thresholds.EnumerateObject(), t => Assert.True(t.Value.GetDouble() > 0));
        Assert.Equal(outcome.Feedback!.Noise[0], thresholds.GetProperty("rung0").GetDouble(), 4);
        Assert.Equal(
            outcome.Feedback.Outcomes.Count(o => o.AccuracyDelta is { } d && d > outcome.Feedback.Noise.GetValueOrDefault(o.Rung)),
            outcome.Feedback.ByAttribute().Sum(s => s.Improved));
    }

    [Fact]
    public void Resume_LadderedRunInterruptedAfterPromotions_SameAsUninterrupted()
    {
        _b.Write(Laddered);
        _a.Write(Laddered);
        var uninterrupted = SearchFixture.Run(_b.Request(evaluator: RungAware())).Single();
        using var cancel = new CancellationTokenSource();
        var seen = 0;

        Assert.ThrowsAny<OperationCanceledException>(() => SearchFixture.Run(_a.Request(evaluator: RungAware()), p =>
        {
            if (p.Latest.Rung == 1 && ++seen == 2)
            {
                cancel.Cancel();
            }
        }, cancel.Token));
        var journaled = RunJournal.Read(Path.Combine(_a.Results, RunName, RunJournal.FileName), RunName);
        Assert.Contains(journaled, e => e.Rung == 1);
        var replayed = 0;
        var resumed = SearchFixture.Run(_a.Request(resume: RunName, evaluator: RungAware()), p => replayed += p.Replayed ? 1 : 0).Single();

        Assert.Equal(journaled.Count, replayed);
        Assert.Equal(Evaluations(uninterrupted), Evaluations(resumed));
        Assert.Equal(SearchFixture.RecordedFiles(uninterrupted.RunDirectory), SearchFixture.RecordedFiles(resumed.RunDirectory));
    }

    [Fact]
    public void Resume_RungNoteDeletedOrPromotionResultEdited_RefusedNamingTheRung()
    {
        _a.Write(Laddered);
        var outcome = SearchFixture.Run(_a.Request(evaluator: RungAware())).Single();
        var promoted = outcome.AllEvaluations.First(e => e is { Rung: 1, IsNoise: false });
        var document = RunArchive.ResultPath(outcome.RunDirectory, promoted);
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(document))!;
        node["bestValidationAccuracy"] = 99.5;
        File.WriteAllText(document, node.ToJsonString());
        using (var repository = new LibGit2Sharp.Repository(_a.Root))
        {
            repository.Refs.Remove(LineageLayout.RungNotesRef(outcome.Run, 2));
        }

        var e = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_a.Request(resume: RunName, evaluator: RungAware())));

        Assert.Contains($"candidate {promoted.Candidate[..12]} (#{promoted.Index}, rung 1): validation accuracy differs", e.Message, StringComparison.Ordinal);
        Assert.Contains($"has no metrics note in {LineageLayout.RungNotesRef(outcome.Run, 2)}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reproduce_LadderedRun_ComparesEveryRungAndPasses()
    {
        _a.Write(Laddered);
        var outcome = SearchFixture.Run(_a.Request(evaluator: RungAware())).Single();

        var report = await Reproduction.RunAsync(_a.Results, outcome.Run, WorkerCommand.ForAssembly("fairnad.dll"), null, evaluator: RungAware());

        Assert.True(report.Passed, string.Join("\n", report.Differences));
        Assert.Equal(outcome.AllEvaluations.Count, report.Compared);
        var changed = Reproduction.Compare(outcome.AllEvaluations, [.. outcome.AllEvaluations.Select(e => e is { Rung: 2, IsNoise: false } ? e with { Validation = e.Validation + 1 } : e)], 0);
        Assert.Equal("validation", Assert.Single(changed).Field);
    }

    [Fact]
    public void Run_LadderedStrategy_ToldHigherRungResultsOnly()
    {
        var strategy = new RecordingStrategy();
        var evaluation = new EvaluationResult { CandidateId = "x", Dataset = "fashion-mnist", Config = TrainingConfig.Quick, Status = "ok", BestValidationAccuracy = 50 };
        var link = new StrategyLink(strategy, new SyntheticEvaluator(), "parameters");
        var proposal = new Proposal<ArchitectureSpec>(ReferenceArchitectures.Get("resnet"), "k", [], "seed");
        CandidateRecord Record(int rung, int noise, string status) => new(0, "k", "seed", null, null, [], null, "", status, status == "ok" ? 50 + rung : null, null, 1, 1, null,
            status == "ok" ? null : "crash", null, "c", 0, 0, null, rung, noise);

        link.Tell(new Trial(0, proposal) { Record = Record(0, 0, "ok"), Result = evaluation });
        link.Tell(new Trial(0, proposal) { Rung = 0, NoiseSeed = 1, Record = Record(0, 1, "ok") });
        link.Tell(new Trial(0, proposal) { Rung = 1, Record = Record(1, 0, "failed") });
        link.Tell(new Trial(0, proposal) { Rung = 2, Record = Record(2, 0, "ok") });

        Assert.Equal([(0, 50.0), (2, 52.0)], strategy.Told.Select(o => (o.Rung, o.Accuracy!.Value)));
    }

    [Fact]
    public void Run_WithoutLadder_ExperimentTextAndHashUnchanged()
    {
        var plain = SearchFixture.Tiny;

        Assert.DoesNotContain("ladder", plain.ToJson(), StringComparison.Ordinal);
        Assert.DoesNotContain("noise", plain.ToJson(), StringComparison.Ordinal);
        Assert.NotEqual(plain.Hash(), Laddered.Hash());
        var read = ExperimentFile.Read(Laddered.ToJson(), "laddered.json");
        Assert.Equal(Laddered.ToJson(), read.ToJson());
        Assert.Equal(3, read.Ladder!.Rungs.Count);
    }

    private sealed class RecordingStrategy : IAskTellStrategy<ArchitectureSpec>
    {
        public List<Outcome> Told { get; } = [];

        public string Name => "recording";

        public ValueTask<Proposal<ArchitectureSpec>?> AskAsync(CancellationToken cancel = default) => ValueTask.FromResult<Proposal<ArchitectureSpec>?>(null);

        public void Tell(Proposal<ArchitectureSpec> proposal, Outcome outcome) => Told.Add(outcome);
    }
}

/// <summary>A laddered search trained for real in isolated workers, killed with SIGKILL during its promotions and resumed.</summary>
[Trait("Category", "Slow")]
public sealed class LadderTrainingTests : IDisposable
{
    private const string RunName = "tiny-fairnad-s0";

    private readonly SearchFixture _uninterrupted = new();
    private readonly SearchFixture _killed = new();

    /// <summary>The tiny experiment in two isolated workers, on two rungs (100 images for one epoch, 200 for two), noise measured on two seeds architectures.</summary>
    public static Experiment Laddered => TrainingSearchTests.Isolated with
    {
        Ladder = new Ladder([new Rung(1, 100), new Rung(2, 200)], 0.34),
        Noise = new NoiseOptions(2, 1),
    };

    public void Dispose()
    {
        _uninterrupted.Dispose();
        _killed.Dispose();
    }

    [Fact]
    public void Resume_LadderedRunKilledAfterACommit_SameEvaluationsCommitsAndFilesAsUninterrupted()
    {
        _uninterrupted.Write(Laddered);
        var clean = SearchFixture.Run(_uninterrupted.Request(train: true)).Single();
        Assert.Contains(clean.AllEvaluations, e => e.Rung == 1);
        Assert.Contains(clean.AllEvaluations, e => e.IsNoise);

        _killed.Write(Laddered);
        var runDirectory = Path.Combine(_killed.Results, RunName);
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = _killed.Root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "fairnad.dll"), "search", "--experiment", _killed.ExperimentPath, "--results", _killed.Results, "--repo", _killed.Root, "--plain" })
        {
            start.ArgumentList.Add(argument);
        }

        // Late enough that noise measurements and promotions were recorded before the kill.
        var crashAt = $"after-commit:{clean.AllEvaluations.Count - 2}";
        start.Environment[CrashPoints.Variable] = crashAt;
        using (var child = Process.Start(start)!)
        {
            _ = child.StandardOutput.ReadToEndAsync();
            var stderr = child.StandardError.ReadToEnd();
            Assert.True(child.WaitForExit(TimeSpan.FromMinutes(5)), "the search neither finished nor died within 5 minutes");
            Assert.True(child.ExitCode == 137, $"expected the runner to kill itself at {crashAt} (exit 137), got {child.ExitCode}: {stderr}");
        }

        var journaled = RunJournal.Read(Path.Combine(runDirectory, RunJournal.FileName), RunName);
        Assert.Contains(journaled, e => e.Scheduled());
        var replayed = 0;
        var resumed = SearchFixture.Run(_killed.Request(resume: RunName, train: true), p => replayed += p.Replayed ? 1 : 0).Single();

        Assert.Equal(journaled.Count, replayed);
        Assert.Equal(clean.AllEvaluations.Select(Identity), resumed.AllEvaluations.Select(Identity));
        Assert.Equal(SearchFixture.RecordedFiles(clean.RunDirectory), SearchFixture.RecordedFiles(resumed.RunDirectory));
    }

    private static string Identity(CandidateRecord e) =>
        JsonSerializer.Serialize(new { e.Index, e.Candidate, e.Rung, e.NoiseSeed, e.Status, e.Validation, e.Test, e.Commit });
}

internal static class CandidateRecordTestExtensions
{
    public static bool Scheduled(this CandidateRecord record) => record.Rung > 0 || record.IsNoise;
}
