using FairNad.Evaluation.Training;
using FairNad.Lineage;
using FairNad.Search;

namespace FairNad.Experiments.Tests;

public sealed class SearchRunTests : IDisposable
{
    private readonly SearchFixture _a = new();
    private readonly SearchFixture _b = new();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    [Fact]
    public void Run_SameSeedTwice_SameCandidatesCommitsAndMetrics()
    {
        var first = SearchFixture.Run(_a.Request()).Single();
        var second = SearchFixture.Run(_b.Request()).Single();

        Assert.Equal(10, first.Candidates.Count);
        Assert.Equal(SearchFixture.Fingerprint(first.Candidates), SearchFixture.Fingerprint(second.Candidates));
        Assert.Contains(first.Candidates, c => c.MutationType == MutationTypes.FairIdea);
        Assert.Contains(first.Candidates, c => c.MutationType == MutationTypes.Pareto);
        Assert.DoesNotContain(first.Candidates, c => c.MutationType == MutationTypes.Llm);
    }

    [Fact]
    public void Run_DifferentSeed_DifferentCandidates()
    {
        var first = SearchFixture.Run(_a.Request()).Single();
        var second = SearchFixture.Run(_b.Request(new ExperimentOverrides(Seed: 1))).Single();

        Assert.NotEqual(first.Candidates.Skip(4).Select(c => c.Candidate), second.Candidates.Skip(4).Select(c => c.Candidate));
    }

    [Fact]
    public void Run_EveryCandidate_IsABranchWithItsParentsAndANote()
    {
        var outcome = SearchFixture.Run(_a.Request()).Single();

        using var store = LineageStore.Open(_a.Root);
        Assert.Empty(store.Verify(outcome.Run));
        var stored = store.Candidates(outcome.Run).ToDictionary(c => c.CandidateId);
        Assert.Equal(outcome.Candidates.Count, stored.Count);
        foreach (var entry in outcome.Candidates)
        {
            var candidate = stored[entry.Candidate];
            Assert.Equal((entry.Commit, entry.Index, entry.MutationType, entry.Attribute), (candidate.Commit, candidate.Index, candidate.MutationType, candidate.Attribute));
            Assert.Equal(entry.Parents, candidate.ParentCandidates);
            Assert.Equal(entry.Validation, store.GetMetrics(outcome.Run, entry.Commit)!.ValidationAccuracy);
        }

        Assert.True(File.Exists(Path.Combine(outcome.RunDirectory, "manifest.json")));
        Assert.True(File.Exists(Path.Combine(outcome.RunDirectory, "feedback.json")));
        Assert.Contains("## Pareto front", File.ReadAllText(Path.Combine(outcome.RunDirectory, "summary.md")), StringComparison.Ordinal);
        Assert.All(outcome.Candidates, c => Assert.True(File.Exists(Path.Combine(outcome.RunDirectory, "candidates", $"{c.Candidate}.json"))));
    }

    [Fact]
    public void Run_ManifestRecordsVersionsDataAndRedistribution()
    {
        var outcome = SearchFixture.Run(_a.Request()).Single();

        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(outcome.RunDirectory, "manifest.json")))!;
        Assert.Equal(SearchFixture.Tiny.Hash(), manifest["experiment"]!["sha256"]!.GetValue<string>());
        Assert.Equal(40, manifest["harness"]!["commit"] is { } commit ? commit.GetValue<string>().Length : 40);
        Assert.StartsWith("libtorch-cpu ", manifest["torch"]!["libtorch"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith("sha256:", manifest["dataset"]!["train"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(0.0, manifest["mutation"]!["effective"]!["llm"]!.GetValue<double>());
        Assert.Contains("redistributed", manifest["mutation"]!["note"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(FairNad.Lineage.LineageLayout.FormatVersion, manifest["lineage"]!["format"]!.GetValue<int>());
        Assert.Equal(FairNadOptions.CurrentRules, manifest["search"]!["rules"]!.GetValue<int>());
    }

    /// <summary>A reproduction of a run recorded in lineage layout 1 asks for it: the run's commits are then layout 1 throughout, and verify.</summary>
    [Fact]
    public void Run_LineageFormat1Requested_CommitsInLayout1AndManifestSaysSo()
    {
        var outcome = SearchFixture.Run(_a.Request() with { LineageFormat = 1 }).Single();

        using var store = FairNad.Lineage.LineageStore.Open(_a.Root);
        var archive = new RunArchive(outcome.RunDirectory);
        Assert.Equal(1, archive.LineageFormat());
        Assert.All(outcome.Candidates, c => Assert.Contains("Lineage-Format: 1\n", store.Message(c.Commit), StringComparison.Ordinal));
        Assert.All(outcome.Candidates, c => Assert.Throws<FairNad.Lineage.LineageException>(() => store.ReadFile(c.Commit, FairNad.Lineage.CandidateProject.ProjectFile)));
        Assert.Empty(store.Verify(outcome.Run));
    }

    [Fact]
    public void LineageFormat_ManifestWithoutLineage_Layout1()
    {
        var outcome = SearchFixture.Run(_a.Request()).Single();
        var path = Path.Combine(outcome.RunDirectory, "manifest.json");
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.Equal(FairNad.Lineage.LineageLayout.FormatVersion, new RunArchive(outcome.RunDirectory).LineageFormat());

        manifest.Remove("lineage");
        File.WriteAllText(path, manifest.ToJsonString());

        Assert.Equal(1, new RunArchive(outcome.RunDirectory).LineageFormat());
    }

    [Fact]
    public void Run_CandidateOutcomeFailures_RecordedWithCategoryAndRunContinues()
    {
        var evaluator = new SyntheticEvaluator(spec => spec.Name switch
        {
            "mobilenetv2" => EvaluationResult.Failure(spec.Id, "fashion-mnist", TrainingConfig.Quick, FailureCategories.Diverged, "training loss became NaN at epoch 1, step 2"),
            "shufflenetv2" => EvaluationResult.Failure(spec.Id, "fashion-mnist", TrainingConfig.Quick, FailureCategories.Crash, "the worker was killed by signal SIGSEGV (11)"),
            _ => null,
        });

        var outcome = SearchFixture.Run(_a.Request(evaluator: _ => evaluator)).Single();

        Assert.Equal(10, outcome.Candidates.Count);
        var diverged = Assert.Single(outcome.Candidates, c => c.FailureCategory == FailureCategories.Diverged);
        var crash = Assert.Single(outcome.Candidates, c => c.FailureCategory == FailureCategories.Crash);
        Assert.EndsWith("(the same on all 3 attempts)", crash.FailureMessage, StringComparison.Ordinal);
        using var store = LineageStore.Open(_a.Root);
        Assert.Equal("failed", store.GetMetrics(outcome.Run, diverged.Commit)!.Status);
        Assert.StartsWith("diverged: training loss", store.GetMetrics(outcome.Run, diverged.Commit)!.FailureReason, StringComparison.Ordinal);
        Assert.Equal(FailureCategories.Crash, EvaluationResult.Parse(File.ReadAllText(RunAudit.ResultPath(outcome.RunDirectory, crash.Candidate)), crash.Candidate).FailureCategory);
        Assert.Contains("## Failed candidates", File.ReadAllText(Path.Combine(outcome.RunDirectory, "summary.md")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(FailureCategories.Timeout)]
    [InlineData(FailureCategories.OutOfMemory)]
    [InlineData(FailureCategories.Killed)]
    [InlineData(FailureCategories.EvaluatorError)]
    public void Run_InfrastructureFailureThatClearsOnRetry_SameRunAsIfItNeverHappened(string category)
    {
        var clean = SearchFixture.Run(_b.Request()).Single();
        var attempts = new Dictionary<string, int>(StringComparer.Ordinal);
        var flaky = new SyntheticEvaluator(spec =>
        {
            var attempt = attempts[spec.Id] = attempts.GetValueOrDefault(spec.Id) + 1;
            return spec.Name == "mobilenetv2" && attempt <= 2
                ? category == FailureCategories.EvaluatorError
                    ? throw new InvalidOperationException("worker pipe broke")
                    : EvaluationResult.Failure(spec.Id, "fashion-mnist", TrainingConfig.Quick, category, "the machine was busy")
                : null;
        });

        var outcome = SearchFixture.Run(_a.Request(evaluator: _ => flaky)).Single();

        Assert.Equal(SearchFixture.Fingerprint(clean.Candidates), SearchFixture.Fingerprint(outcome.Candidates));
        Assert.Contains(attempts, a => a.Value == 3);
    }

    [Fact]
    public void Resume_WithOptionsThatChangeTheExperiment_RefusedNamingThemNothingWritten()
    {
        var first = SearchFixture.Run(_a.Request()).Single();
        var journal = File.ReadAllText(Path.Combine(first.RunDirectory, RunJournal.FileName));

        var e = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_a.Request(new ExperimentOverrides(Candidates: 9, Jobs: 2), resume: first.Run)));

        Assert.StartsWith($"--resume {first.Run} continues the run as recorded in ", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("; --candidates, --jobs would change it: leave them out, or start a new run with --run <name>", e.Message, StringComparison.Ordinal);
        Assert.Equal(journal, File.ReadAllText(Path.Combine(first.RunDirectory, RunJournal.FileName)));
    }

    [Fact]
    public void Run_PersistentTimeout_StopsNamingTheCandidateRecordsNothingAndResumeFinishesTheSameRun()
    {
        var clean = SearchFixture.Run(_b.Request()).Single();
        string? stuck = null;
        var busy = new SyntheticEvaluator(spec =>
        {
            if (spec.Name != "mobilenetv2")
            {
                return null;
            }

            stuck = spec.Id;
            return EvaluationResult.Failure(spec.Id, "fashion-mnist", TrainingConfig.Quick, FailureCategories.Timeout, "ran longer than 300 s and was stopped");
        });

        var e = Assert.Throws<InfrastructureFailureException>(() => SearchFixture.Run(_a.Request(evaluator: _ => busy)));

        Assert.Contains($"candidate {stuck} could not be evaluated: 3 attempt(s) failed", e.Message, StringComparison.Ordinal);
        Assert.Contains("--resume", e.Message, StringComparison.Ordinal);
        var journal = Path.Combine(_a.Results, "tiny-fairnad-s0", RunJournal.FileName);
        Assert.DoesNotContain(RunJournal.Read(journal, "tiny-fairnad-s0"), x => x.Candidate == stuck);
        Assert.False(File.Exists(RunAudit.ResultPath(Path.Combine(_a.Results, "tiny-fairnad-s0"), stuck!)));

        var resumed = SearchFixture.Run(_a.Request(resume: "tiny-fairnad-s0")).Single();

        Assert.Equal(SearchFixture.Fingerprint(clean.Candidates), SearchFixture.Fingerprint(resumed.Candidates));
    }

    /// <summary>
    /// The CPU-time limit would be spent again on the same machine, so it is not retried: the run stops after one attempt,
    /// records nothing for the candidate, and a resume (given more CPU time) finishes the same run.
    /// </summary>
    [Fact]
    public void Run_CpuTimeLimit_StopsAfterOneAttemptRecordsNothingAndResumeFinishesTheSameRun()
    {
        var clean = SearchFixture.Run(_b.Request()).Single();
        var attempts = new Dictionary<string, int>(StringComparer.Ordinal);
        var slow = new SyntheticEvaluator(spec =>
        {
            lock (attempts)
            {
                attempts[spec.Id] = attempts.GetValueOrDefault(spec.Id) + 1;
            }

            return spec.Name == "mobilenetv2"
                ? EvaluationResult.Failure(spec.Id, "fashion-mnist", TrainingConfig.Quick, FailureCategories.CpuTimeLimit, "used more than 300 s of CPU time and was stopped")
                : null;
        });

        var e = Assert.Throws<InfrastructureFailureException>(() => SearchFixture.Run(_a.Request(evaluator: _ => slow)));

        var stuck = Assert.Single(attempts, a => a.Value == 1 && e.Message.Contains(a.Key, StringComparison.Ordinal)).Key;
        Assert.DoesNotContain(attempts, a => a.Value > 1);
        Assert.Contains($"candidate {stuck} could not be evaluated: 1 attempt(s) failed", e.Message, StringComparison.Ordinal);
        Assert.Contains("#1 cpu-time-limit: used more than 300 s of CPU time and was stopped (not retried: cpu-time-limit would repeat on this machine)", e.Message, StringComparison.Ordinal);
        Assert.Contains("--timeout", e.Message, StringComparison.Ordinal);
        var journal = Path.Combine(_a.Results, "tiny-fairnad-s0", RunJournal.FileName);
        Assert.DoesNotContain(RunJournal.Read(journal, "tiny-fairnad-s0"), x => x.Candidate == stuck);
        Assert.False(File.Exists(RunAudit.ResultPath(Path.Combine(_a.Results, "tiny-fairnad-s0"), stuck)));

        var resumed = SearchFixture.Run(_a.Request(resume: "tiny-fairnad-s0")).Single();

        Assert.Equal(SearchFixture.Fingerprint(clean.Candidates), SearchFixture.Fingerprint(resumed.Candidates));
    }

    /// <summary>
    /// A run recorded before search rules were versioned (its manifest names none) resumes under rules 1, to the result an
    /// uninterrupted rules-1 run has; the current rules would have proposed otherwise.
    /// </summary>
    [Fact]
    public void Resume_RunRecordedBeforeSearchRules_ContinuesUnderRules1()
    {
        var uninterrupted = SearchFixture.Run(_b.Request() with { SearchRules = 1 }).Single();
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => SearchFixture.Run(_a.Request() with { SearchRules = 1 }, p =>
        {
            if (p.Done == 5)
            {
                cancel.Cancel();
            }
        }, cancel.Token));
        var path = Path.Combine(_a.Results, "tiny-fairnad-s0", "manifest.json");
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.Equal(1, manifest["search"]!["rules"]!.GetValue<int>());
        manifest.Remove("search");
        File.WriteAllText(path, manifest.ToJsonString());

        var resumed = SearchFixture.Run(_a.Request(resume: "tiny-fairnad-s0")).Single();
        var current = SearchFixture.Run(_b.Request() with { RunName = "tiny-current" }).Single();

        Assert.Equal(SearchFixture.Fingerprint(uninterrupted.Candidates), SearchFixture.Fingerprint(resumed.Candidates));
        Assert.NotEqual(uninterrupted.Candidates.Select(c => c.Candidate), current.Candidates.Select(c => c.Candidate));
    }

    /// <summary>
    /// Under search rules 3 the mutation types' credit (trials, successes, draw probability) is in feedback.json and
    /// summary.md, derived from tells only: an interrupted run resumes to the proposals and credit of an uninterrupted one.
    /// Under rules 2 neither file has it.
    /// </summary>
    [Fact]
    public void Resume_Rules3Interrupted_SameResultAndMutationCreditRecorded()
    {
        var uninterrupted = SearchFixture.Run(_b.Request() with { SearchRules = 3 }).Single();
        var rules2 = SearchFixture.Run(_b.Request() with { SearchRules = 2, RunName = "tiny-rules2" }).Single();
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => SearchFixture.Run(_a.Request() with { SearchRules = 3 }, p =>
        {
            if (p.Done == 5)
            {
                cancel.Cancel();
            }
        }, cancel.Token));

        var resumed = SearchFixture.Run(_a.Request(resume: "tiny-fairnad-s0")).Single();

        Assert.Equal(SearchFixture.Fingerprint(uninterrupted.Candidates), SearchFixture.Fingerprint(resumed.Candidates));
        System.Text.Json.Nodes.JsonNode Credit(SearchOutcome o) =>
            System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(o.RunDirectory, "feedback.json")))!["mutationTypes"]!;
        Assert.Equal(Credit(uninterrupted).ToJsonString(), Credit(resumed).ToJsonString());
        var trials = Credit(resumed).AsArray().Sum(t => t!["trials"]!.GetValue<int>());
        Assert.Equal(resumed.Candidates.Count(c => c.MutationType != MutationTypes.Seed), trials);
        Assert.Equal(resumed.MutationCredit!.Select(c => c.Trials), Credit(resumed).AsArray().Select(t => t!["trials"]!.GetValue<int>()));
        Assert.Contains("## Mutation types", File.ReadAllText(Path.Combine(resumed.RunDirectory, "summary.md")), StringComparison.Ordinal);
        Assert.Null(System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(rules2.RunDirectory, "feedback.json")))!["mutationTypes"]);
        Assert.DoesNotContain("## Mutation types", File.ReadAllText(Path.Combine(rules2.RunDirectory, "summary.md")), StringComparison.Ordinal);
        Assert.Empty(rules2.MutationCredit!);
    }

    [Fact]
    public void Resume_AfterInterruption_SameResultAsUninterrupted()
    {
        var uninterrupted = SearchFixture.Run(_b.Request()).Single();
        using var cancel = new CancellationTokenSource();

        Assert.ThrowsAny<OperationCanceledException>(() => SearchFixture.Run(_a.Request(), p =>
        {
            if (p.Done == 5)
            {
                cancel.Cancel();
            }
        }, cancel.Token));
        var replayed = 0;
        var resumed = SearchFixture.Run(_a.Request(resume: "tiny-fairnad-s0"), p => replayed += p.Replayed ? 1 : 0).Single();

        Assert.InRange(replayed, 5, 6);
        Assert.Equal(SearchFixture.Fingerprint(uninterrupted.Candidates), SearchFixture.Fingerprint(resumed.Candidates));
    }

    [Fact]
    public void Run_ExistingRunWithoutResume_RefusedAndNothingLost()
    {
        var outcome = SearchFixture.Run(_a.Request()).Single();
        var journal = File.ReadAllText(Path.Combine(outcome.RunDirectory, "journal.jsonl"));

        var e = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_a.Request()));

        Assert.Contains("already holds run 'tiny-fairnad-s0'; continue it with --resume tiny-fairnad-s0", e.Message, StringComparison.Ordinal);
        Assert.Equal(journal, File.ReadAllText(Path.Combine(outcome.RunDirectory, "journal.jsonl")));
    }

    [Fact]
    public void Resume_ChangedExperimentCopy_Refused()
    {
        var outcome = SearchFixture.Run(_a.Request()).Single();
        var copy = Path.Combine(outcome.RunDirectory, SearchSession.ExperimentCopy);
        File.WriteAllText(copy, File.ReadAllText(copy).Replace("\"candidates\": 10", "\"candidates\": 12", StringComparison.Ordinal));

        var e = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_a.Request(resume: outcome.Run)));

        Assert.Contains("the experiment changed since the run started", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_GpuAskedOnAMachineWithout_RefusedBeforeAnyCandidate()
    {
        if (TorchSharp.torch.cuda.is_available())
        {
            return;
        }

        var e = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_a.Request(new ExperimentOverrides(Device: "cuda"))));

        Assert.Contains("fidelity.device: device 'cuda' asked for, but libtorch sees no CUDA GPU", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_a.Results, "tiny-fairnad-s0", "journal.jsonl")));
    }

    [Theory]
    [InlineData("random")]
    [InlineData("rea")]
    [InlineData("fairnad-no-fair-idea")]
    [InlineData("fairnad-no-pareto")]
    [InlineData("fairnad-no-feedback")]
    public void Run_Baselines_SearchTheSameSpaceWithoutDuplicates(string strategy)
    {
        var outcome = SearchFixture.Run(_a.Request(new ExperimentOverrides(Strategy: strategy))).Single();

        Assert.Equal($"tiny-{strategy}-s0", outcome.Run);
        Assert.Equal(10, outcome.Candidates.Count);
        Assert.Equal(outcome.Candidates.Count, outcome.Candidates.Select(c => c.Candidate).Distinct().Count());
        Assert.All(outcome.Candidates, c => Assert.True(c.Parameters <= SearchFixture.Tiny.ParameterBudget));
        if (strategy == "fairnad-no-fair-idea")
        {
            Assert.DoesNotContain(outcome.Candidates, c => c.MutationType == MutationTypes.FairIdea);
        }

        if (strategy == "fairnad-no-pareto")
        {
            Assert.DoesNotContain(outcome.Candidates, c => c.MutationType == MutationTypes.Pareto);
        }
    }
}
