using System.Diagnostics;
using FairNad.Evaluation.Isolation;

namespace FairNad.Experiments.Tests;

/// <summary>The tiny experiment trained for real in two isolated workers, once, uninterrupted and on an idle machine.</summary>
public sealed class UninterruptedTrainingRun : IDisposable
{
    public UninterruptedTrainingRun()
    {
        Fixture.Write(TrainingSearchTests.Isolated);
        Outcome = SearchFixture.Run(Fixture.Request(train: true)).Single();
        Files = SearchFixture.RecordedFiles(Outcome.RunDirectory);
    }

    public SearchFixture Fixture { get; } = new();

    public SearchOutcome Outcome { get; }

    public IReadOnlyDictionary<string, string> Files { get; }

    public void Dispose() => Fixture.Dispose();
}

/// <summary>
/// Searches that really train, in worker processes: killed with SIGKILL at chosen moments and resumed, and run with the CPU
/// busy; each must end with the same candidates, commits, metrics and recorded files as the uninterrupted idle run.
/// </summary>
[Trait("Category", "Slow")]
public sealed class TrainingSearchTests(UninterruptedTrainingRun uninterrupted) : IClassFixture<UninterruptedTrainingRun>, IDisposable
{
    private const string RunName = "tiny-fairnad-s0";

    private readonly SearchFixture _fixture = new();

    /// <summary>The tiny experiment with two isolated workers: what the quickstart does, on a smaller scale.</summary>
    public static Experiment Isolated => SearchFixture.Tiny with { Evaluation = new EvaluationOptions(2, true, 300, 4096) };

    public void Dispose() => _fixture.Dispose();

    /// <summary>
    /// kill -9 of the runner: while a worker runs (the worker must die with it), between a candidate's result file and its
    /// commit, and between its commit and its journal line.
    /// </summary>
    [Theory]
    [InlineData("worker-running:3")]
    [InlineData("after-result:4")]
    [InlineData("after-commit:6")]
    public void Resume_AfterKill9_SameCandidatesCommitsMetricsAndFilesAsUninterrupted(string crashAt)
    {
        _fixture.Write(Isolated);

        var stderr = RunInChildUntilItStops(crashAt, expectedExitCode: 137);

        Assert.Contains("killing this process", stderr, StringComparison.Ordinal);
        ResumeAndAssertSameRun();
    }

    /// <summary>
    /// SIGTERM to the runner (kill, a cluster's time limit; the only stop signal a run started in the background from a
    /// script receives), sent while a worker trains: the run stops cleanly with 143, stops its workers, keeps what it
    /// recorded, and resumes to the uninterrupted run.
    /// </summary>
    [Fact]
    public void Resume_AfterSigterm_Exit143ThenSameCandidatesCommitsMetricsAndFilesAsUninterrupted()
    {
        _fixture.Write(Isolated);

        var stderr = RunInChildUntilItStops("SIGTERM@worker-running:4", expectedExitCode: 143);

        Assert.Contains("sending SIGTERM to this process", stderr, StringComparison.Ordinal);
        Assert.Contains("fairnad: stopped by SIGTERM after ", stderr, StringComparison.Ordinal);
        Assert.Contains($"Continue with: fairnad search --resume {RunName}", stderr, StringComparison.Ordinal);
        ResumeAndAssertSameRun();
    }

    /// <summary>
    /// --timeout reaches the workers: a limit no candidate can meet stops the run with nothing recorded for the candidate,
    /// and the resume, given a sufficient --timeout (an execution setting a resume accepts), ends as the uninterrupted run.
    /// </summary>
    [Fact]
    public void Resume_WithLargerTimeoutAfterTimeoutStop_SameCandidatesCommitsMetricsAndFilesAsUninterrupted()
    {
        _fixture.Write(Isolated);

        var e = Assert.Throws<InfrastructureFailureException>(() => SearchFixture.Run(_fixture.Request(new ExperimentOverrides(Timeout: 0.01), train: true)));

        Assert.Contains("could not be evaluated: 1 attempt(s) failed", e.Message, StringComparison.Ordinal);
        Assert.Contains("#1 cpu-time-limit: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("used more than 0 s of CPU time", e.Message, StringComparison.Ordinal);
        Assert.Contains("--timeout", e.Message, StringComparison.Ordinal);
        var journal = Path.Combine(_fixture.Results, RunName, RunJournal.FileName);
        Assert.Empty(RunJournal.Read(journal, RunName));

        var resumed = SearchFixture.Run(_fixture.Request(new ExperimentOverrides(Timeout: 600), resume: RunName, train: true)).Single();

        AssertSameRun(resumed);
    }

    /// <summary>Both cores kept busy by other threads for the whole search: load may slow it down, never change it.</summary>
    [Fact]
    public void Run_WhileTheCpuIsBusy_SameCandidatesCommitsMetricsAndFilesAsIdle()
    {
        _fixture.Write(Isolated);
        var stop = false;
        var burners = Enumerable.Range(0, Environment.ProcessorCount).Select(_ => new Thread(() =>
        {
            var x = 1.0;
            while (!Volatile.Read(ref stop))
            {
                x = (x * 1.0000001) + 1e-9;
            }

            GC.KeepAlive(x);
        }) { IsBackground = true }).ToList();
        burners.ForEach(t => t.Start());
        SearchOutcome loaded;
        try
        {
            loaded = SearchFixture.Run(_fixture.Request(train: true)).Single();
        }
        finally
        {
            Volatile.Write(ref stop, true);
            burners.ForEach(t => t.Join());
        }

        AssertSameRun(loaded);
    }

    /// <summary>A fresh worker process per candidate (the cold executor) and warm workers give the same run.</summary>
    [Fact]
    public void Run_WithColdWorkers_SameCandidatesCommitsMetricsAndFilesAsWarm()
    {
        Assert.True(Isolated.Evaluation.WarmWorkers, "the uninterrupted run is expected to use warm workers (the default)");
        _fixture.Write(Isolated with { Evaluation = Isolated.Evaluation with { WarmWorkers = false } });

        var cold = SearchFixture.Run(_fixture.Request(train: true)).Single();

        AssertSameRun(cold);
    }

    /// <summary>
    /// Runs the search as the CLI does, in a child process with <paramref name="crashAt"/> armed (see
    /// <see cref="CrashPoints"/>), and waits for it to exit with <paramref name="expectedExitCode"/> and for every worker it
    /// started to be gone: a worker that outlives its runner would hold the run's lock and its CPU. Returns its stderr.
    /// </summary>
    private string RunInChildUntilItStops(string crashAt, int expectedExitCode)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = _fixture.Root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "fairnad.dll"), "search", "--experiment", _fixture.ExperimentPath, "--results", _fixture.Results, "--repo", _fixture.Root, "--plain" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment[CrashPoints.Variable] = crashAt;
        string stderr;
        using (var child = Process.Start(start)!)
        {
            _ = child.StandardOutput.ReadToEndAsync();
            stderr = child.StandardError.ReadToEnd();
            Assert.True(child.WaitForExit(TimeSpan.FromMinutes(5)), $"the search neither finished nor stopped at {crashAt} within 5 minutes");
            Assert.True(child.ExitCode == expectedExitCode, $"expected the runner to stop at {crashAt} with exit {expectedExitCode}, got {child.ExitCode}: {stderr}");
        }

        var runDirectory = Path.Combine(_fixture.Results, RunName);
        var watch = Stopwatch.StartNew();
        while (WorkerLifetime.Find(runDirectory).Count > 0)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"a worker outlived its stopped runner: {string.Join("; ", WorkerLifetime.Find(runDirectory))}");
            Thread.Sleep(50);
        }

        return stderr;
    }

    /// <summary>
    /// Resumes the stopped run in this process: every journaled candidate must be replayed, not retrained, and the run
    /// must end as the uninterrupted one.
    /// </summary>
    private void ResumeAndAssertSameRun()
    {
        var journaled = RunJournal.Read(Path.Combine(_fixture.Results, RunName, RunJournal.FileName), RunName).Count;
        Assert.InRange(journaled, 1, 9);
        var replayed = 0;

        var resumed = SearchFixture.Run(_fixture.Request(resume: RunName, train: true), p => replayed += p.Replayed ? 1 : 0).Single();

        Assert.Equal(journaled, replayed);
        AssertSameRun(resumed);
    }

    private void AssertSameRun(SearchOutcome run)
    {
        var expected = SearchFixture.Fingerprint(uninterrupted.Outcome.Candidates);
        var actual = SearchFixture.Fingerprint(run.Candidates);
        Assert.True(expected.SequenceEqual(actual), $"differing:\n{string.Join("\n", expected.Zip(actual).Where(p => p.First != p.Second).Select(p => p.First + "\n" + p.Second))}");
        Assert.All(run.Candidates, c => Assert.Equal("ok", c.Status));
        var files = SearchFixture.RecordedFiles(run.RunDirectory);
        Assert.Equal(uninterrupted.Files.Keys, files.Keys);
        Assert.All(uninterrupted.Files, f => Assert.True(f.Value == files[f.Key], $"{f.Key} differs:\n{f.Value}\n{files[f.Key]}"));
    }
}
