using System.Diagnostics;
using System.Text.Json.Nodes;
using FairNad.Evaluation.Isolation;
using FairNad.Evaluation.Training;
using FairNad.Experiments.Slurm;

namespace FairNad.Experiments.Tests;

/// <summary>A one-node Slurm cluster, and the small search trained for real by local workers once, as the reference.</summary>
public sealed class SlurmSearchRuns : IDisposable
{
    public SlurmSearchRuns()
    {
        if (SlurmCluster.Unavailable is not null)
        {
            return;
        }

        Cluster = new SlurmCluster();
        Local.Write(SlurmSearchTests.LocalExperiment);
        Outcome = SearchFixture.Run(Local.Request(train: true)).Single();
        Files = SearchFixture.RecordedFiles(Outcome.RunDirectory);
    }

    public SlurmCluster? Cluster { get; }

    public SearchFixture Local { get; } = new();

    public SearchOutcome? Outcome { get; }

    public IReadOnlyDictionary<string, string> Files { get; } = new Dictionary<string, string>();

    public void Dispose()
    {
        Cluster?.Dispose();
        Local.Dispose();
    }
}

/// <summary>
/// Searches whose candidates train as jobs of a real one-node Slurm cluster (<see cref="SlurmCluster"/>): uninterrupted,
/// with a job cancelled from outside, and with the runner killed while jobs are in flight and resumed; each must end with
/// the candidates, commits, metrics and recorded files of the same search trained by local workers. Skipped, with the
/// reason, where the cluster cannot run (not root, or Slurm not installed).
/// </summary>
[Trait("Category", "Slow")]
public sealed class SlurmSearchTests(SlurmSearchRuns reference) : IClassFixture<SlurmSearchRuns>, IDisposable
{
    private const string RunName = "tiny-fairnad-s0";

    private readonly SearchFixture _fixture = new();

    /// <summary>Six candidates in batches of two, two at once: every part of the loop (batches, strategy, lineage) with little training.</summary>
    public static Experiment LocalExperiment => SearchFixture.Tiny with { Candidates = 6, Evaluation = new EvaluationOptions(2, true, 300, 1024) };

    /// <summary>The same experiment on the cluster's partition; the queue looked at every half second.</summary>
    public static Experiment SlurmExperiment => LocalExperiment with { Executor = new ExecutorOptions(ExecutorOptions.Slurm, Partition: SlurmCluster.Partition, PollSeconds: 0.5) };

    private SlurmCluster Cluster => reference.Cluster ?? throw new InvalidOperationException("no cluster");

    private string RunDirectory => Path.Combine(_fixture.Results, RunName);

    private SlurmJobLog JobLog => new(Path.Combine(RunDirectory, RunArchive.SlurmJobsFile));

    public void Dispose() => _fixture.Dispose();

    [SlurmFact]
    public void Run_OnSlurm_SameCandidatesCommitsMetricsAndFilesAsLocal()
    {
        Assert.Null(Cluster.Problem);
        _fixture.Write(SlurmExperiment);

        var run = Run(_fixture.Request(train: true) with { Slurm = Cluster.Commands }, out _);

        AssertSameRun(run);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(RunDirectory, RunArchive.ManifestFile)))!["executor"]!;
        Assert.Equal("slurm", (string?)manifest["kind"]);
        var jobs = manifest["jobs"]!.AsArray();
        // One job per candidate (the two of a batch are submitted at once, in either order).
        Assert.Equal(run.Candidates.Select(c => c.Candidate).Order(StringComparer.Ordinal), jobs.Select(j => (string)j!["candidate"]!).Order(StringComparer.Ordinal));
        Assert.All(jobs, j => Assert.Equal("COMPLETED", (string?)j!["state"]));
        Assert.Equal(jobs.Count, jobs.Select(j => (string?)j!["job"]).Distinct().Count());
    }

    [SlurmFact]
    public void Run_JobCancelledFromOutside_ResubmittedAndSameAsLocal()
    {
        Assert.Null(Cluster.Problem);
        _fixture.Write(SlurmExperiment);
        string? cancelled = null;
        using var stop = new CancellationTokenSource();

        // An administrator's scancel of the third job as soon as it is submitted (it cannot have finished: the worker takes seconds to start).
        var watcher = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (File.Exists(JobLog.Path) && JobLog.Jobs() is { Count: >= 3 } jobs)
                {
                    cancelled = jobs[2].Job;
                    Assert.True(Cluster.Run("scancel", cancelled).Succeeded);
                    return;
                }

                await Task.Delay(20);
            }
        });
        SearchOutcome run;
        List<string> log;
        try
        {
            run = Run(_fixture.Request(train: true) with { Slurm = Cluster.Commands }, out log);
        }
        finally
        {
            stop.Cancel();
            watcher.Wait();
        }

        AssertSameRun(run);
        var entry = Assert.Single(JobLog.Jobs(), j => j.Job == cancelled);
        Assert.Equal("CANCELLED", entry.State);
        Assert.Equal(2, JobLog.Attempts(entry.Candidate));
        Assert.Contains(log, l => l.Contains($"Slurm job {cancelled} was cancelled from outside", StringComparison.Ordinal) && l.Contains(FailureCategories.Killed, StringComparison.Ordinal));
    }

    [SlurmFact]
    public void Resume_AfterRunnerKill9WithJobsInFlight_ReattachesAndSameAsLocal()
    {
        Assert.Null(Cluster.Problem);
        _fixture.Write(SlurmExperiment);
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = _fixture.Root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "fairnad.dll"), "search", "--experiment", _fixture.ExperimentPath, "--results", _fixture.Results, "--repo", _fixture.Root, "--plain" })
        {
            start.ArgumentList.Add(argument);
        }

        // kill -9 of the runner right after it submitted the third job: that job (and perhaps the fourth) is in flight.
        start.Environment[CrashPoints.Variable] = "slurm-submitted:3";
        foreach (var (name, value) in Cluster.ClientEnvironment)
        {
            start.Environment[name] = value;
        }

        using (var child = Process.Start(start)!)
        {
            _ = child.StandardOutput.ReadToEndAsync();
            var stderr = child.StandardError.ReadToEnd();
            Assert.True(child.WaitForExit(TimeSpan.FromMinutes(5)), "the search neither finished nor died within 5 minutes");
            Assert.True(child.ExitCode == 137, $"expected the runner to kill itself after its third submission (exit 137), got {child.ExitCode}: {stderr}");
        }

        var open = JobLog.Open();
        Assert.NotEmpty(open);
        var journaled = RunJournal.Read(Path.Combine(RunDirectory, RunJournal.FileName), RunName).Count;
        Assert.Equal(2, journaled);

        var resumed = Run(_fixture.Request(resume: RunName, train: true) with { Slurm = Cluster.Commands }, out var log);

        AssertSameRun(resumed);
        Assert.All(open, o => Assert.Contains(log, l => l.Contains($"re-attached to Slurm job {o.Value}", StringComparison.Ordinal)));
        Assert.All(open, o => Assert.Equal(1, JobLog.Attempts(o.Key)));
        Assert.Empty(JobLog.Open());
    }

    [SlurmFact]
    public void Run_Cancelled_ScancelsTheJobsInFlight()
    {
        Assert.Null(Cluster.Problem);
        _fixture.Write(SlurmExperiment);
        using var cancel = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            while (!(File.Exists(JobLog.Path) && JobLog.Jobs().Count >= 1))
            {
                await Task.Delay(20);
            }

            await cancel.CancelAsync();
        });

        Assert.ThrowsAny<OperationCanceledException>(() => Run(_fixture.Request(train: true) with { Slurm = Cluster.Commands }, out _, cancel.Token));
        watcher.Wait();

        Assert.Empty(JobLog.Open());
        Assert.All(JobLog.Jobs(), j => Assert.Equal("CANCELLED", j.State));
        // Slurm may show a running job COMPLETING for a moment while its processes are signalled.
        var watch = Stopwatch.StartNew();
        IReadOnlyDictionary<string, (string State, string Reason)> states;
        do
        {
            Thread.Sleep(200);
            states = SlurmJobStates.ParseSqueue(Cluster.Run("squeue", "--noheader", "--states=all", $"--jobs={string.Join(",", JobLog.Jobs().Select(j => j.Job))}", "--format=%i|%T").Output);
        }
        while (states.Values.Any(s => s.State != "CANCELLED") && watch.Elapsed < TimeSpan.FromSeconds(10));

        Assert.Equal(JobLog.Jobs().Count, states.Count);
        Assert.All(states.Values, s => Assert.Equal("CANCELLED", s.State));
    }

    /// <summary>Reproduce re-executes the local reference run as Slurm jobs: the same ids, commits and metrics, bit for bit.</summary>
    [SlurmFact]
    public async Task Reproduce_LocalRunOnSlurm_IdenticalCandidatesCommitsAndMetrics()
    {
        Assert.Null(Cluster.Problem);
        var log = new List<string>();

        var report = await Reproduction.RunAsync(reference.Local.Results, RunName, WorkerCommand.ForAssembly(Path.Combine(AppContext.BaseDirectory, "fairnad.dll")), null,
            log: l => { lock (log) { log.Add(l); } }, executor: ExecutorOptions.Slurm, slurm: Cluster.Commands);

        Assert.True(report.Passed, string.Join("\n", report.Differences));
        Assert.Equal(LocalExperiment.Candidates, report.Compared);
        Assert.Contains(log, l => l.StartsWith("evaluation at most 2 Slurm jobs", StringComparison.Ordinal));
    }

    [SlurmFact]
    public void Run_NoSuchPartition_ErrorNamesSinfoBeforeAnythingIsWritten()
    {
        Assert.Null(Cluster.Problem);
        _fixture.Write(SlurmExperiment with { Executor = SlurmExperiment.Executor! with { Partition = "a100" } });

        var e = Assert.Throws<ExperimentException>(() => Run(_fixture.Request(train: true) with { Slurm = Cluster.Commands }, out _));

        Assert.StartsWith("executor.partition: the Slurm cluster has no partition 'a100': `sinfo --noheader '--format=%P|%a'` lists debug (default) up", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(RunDirectory), "a run that cannot start must leave no folder");
    }

    [SlurmFact]
    public async Task PreflightAsync_ControllerNotListening_ClusterUnreachableNamingSinfoAndItsError()
    {
        Assert.Null(Cluster.Problem);
        var commands = new SlurmCommands(environment: new Dictionary<string, string> { ["SLURM_CONF"] = Cluster.UnreachableConfig() });

        var e = await Assert.ThrowsAsync<ExperimentException>(() => SlurmExecutor.PreflightAsync(new ExecutorOptions(ExecutorOptions.Slurm), null, commands));

        Assert.StartsWith("executor.kind slurm: the Slurm cluster is unreachable: `sinfo --noheader '--format=%P|%a'` exited with code 1: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("Unable to contact slurm controller", e.Message, StringComparison.Ordinal);
    }

    private static SearchOutcome Run(SearchRequest request, out List<string> log, CancellationToken cancel = default)
    {
        var lines = new List<string>();
        log = lines;
        return SearchSession.RunAsync(request, l =>
        {
            lock (lines)
            {
                lines.Add(l);
            }
        }, cancel: cancel).GetAwaiter().GetResult().Single();
    }

    private void AssertSameRun(SearchOutcome run)
    {
        var expected = SearchFixture.Fingerprint(reference.Outcome!.Candidates);
        var actual = SearchFixture.Fingerprint(run.Candidates);
        Assert.True(expected.SequenceEqual(actual), $"differing:\n{string.Join("\n", expected.Zip(actual).Where(p => p.First != p.Second).Select(p => p.First + "\n" + p.Second))}");
        Assert.Equal(LocalExperiment.Candidates, run.Candidates.Count);
        Assert.All(run.Candidates, c => Assert.Equal("ok", c.Status));
        var files = SearchFixture.RecordedFiles(run.RunDirectory);
        Assert.Equal(reference.Files.Keys, files.Keys);
        Assert.All(reference.Files, f => Assert.True(f.Value == files[f.Key], $"{f.Key} differs:\n{f.Value}\n{files[f.Key]}"));
    }
}
