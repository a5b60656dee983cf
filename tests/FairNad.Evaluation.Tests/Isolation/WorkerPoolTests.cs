using FairNad.Evaluation.Isolation;
using FairNad.Evaluation.Training;

namespace FairNad.Evaluation.Tests.Isolation;

/// <summary>Real child processes that crash, hang, eat memory or succeed; the pool must turn each into a recorded result.</summary>
public sealed class WorkerPoolTests : IDisposable
{
    private static readonly WorkerLimits Limits = new(TimeSpan.FromSeconds(20), 400L << 20);
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-workers-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private WorkerJob Bash(string id, string script) =>
        new(id, "fashion-mnist", TrainingConfig.Quick, "bash", ["-c", script], Path.Combine(_directory, $"{id}.json"));

    [Fact]
    public void Run_WorkerWritesResult_ResultReturned()
    {
        var document = new EvaluationResult { CandidateId = "good", Dataset = "fashion-mnist", Config = TrainingConfig.Quick, Status = "ok", TestAccuracy = 88.5 }.ToJson();
        var path = Path.Combine(_directory, "doc.json");
        File.WriteAllText(path, document);

        var result = WorkerPool.Run(Bash("good", $"cp '{path}' '{Path.Combine(_directory, "good.json")}'"), Limits);

        Assert.Equal(("ok", 88.5), (result.Status, result.TestAccuracy));
    }

    [Fact]
    public void Run_NativeFault_RecordedAsCrashWithSignal()
    {
        var result = WorkerPool.Run(Bash("segv", "echo 'about to fault' >&2; kill -SEGV $$"), Limits);

        Assert.Equal(("failed", "crash"), (result.Status, result.FailureCategory));
        Assert.Contains("killed by signal SIGSEGV (11)", result.FailureMessage);
        Assert.Contains("about to fault", result.FailureMessage);
    }

    [Fact]
    public void Run_ExitWithoutResult_RecordedAsCrashWithCode()
    {
        var result = WorkerPool.Run(Bash("exit3", "echo 'no data' >&2; exit 3"), Limits);

        Assert.Equal("crash", result.FailureCategory);
        Assert.Contains("exited with code 3 without a result; stderr: no data", result.FailureMessage);
    }

    [Fact]
    public void Run_HangWithoutCpu_StoppedAtTheWallClockBackstop()
    {
        var result = WorkerPool.Run(Bash("hang", "sleep 60"), Limits with { Timeout = TimeSpan.FromSeconds(1), WallClockFactor = 3 });

        Assert.Equal("timeout", result.FailureCategory);
        Assert.Contains("ran longer than 3 s of wall-clock time (3 x the 1 s timeout)", result.FailureMessage);
    }

    [Fact]
    public void Run_Spin_StoppedAtItsCpuTimeBeforeTheBackstop()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var result = WorkerPool.Run(Bash("spin", "while :; do :; done"), Limits with { Timeout = TimeSpan.FromSeconds(1), WallClockFactor = 60 });

        Assert.Equal("cpu-time-limit", result.FailureCategory);
        Assert.Contains("used more than 1 s of CPU time", result.FailureMessage);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(50), $"stopped after {watch.Elapsed}, by the backstop rather than the CPU time");
    }

    [Fact]
    public void Run_WaitingPastItsTimeoutUnderItsCpuTime_NotStopped()
    {
        // A job that spends its wall-clock time waiting, as one does on a machine busy with other work, uses little CPU
        // time: it is not stopped at the timeout, so a loaded machine does not stop a run that an idle one finishes.
        var document = new EvaluationResult { CandidateId = "slow", Dataset = "fashion-mnist", Config = TrainingConfig.Quick, Status = "ok", TestAccuracy = 70 }.ToJson();
        var path = Path.Combine(_directory, "slow-doc.json");
        File.WriteAllText(path, document);

        var result = WorkerPool.Run(Bash("slow", $"sleep 3; cp '{path}' '{Path.Combine(_directory, "slow.json")}'"), Limits with { Timeout = TimeSpan.FromSeconds(1) });

        Assert.Equal(("ok", 70.0), (result.Status, result.TestAccuracy));
    }

    [Theory]
    [InlineData(0.5, 0.2, 1, null, null)]
    [InlineData(1.5, 0.2, 1, "cpu-time-limit", "used more than 1 s of CPU time and was stopped")]
    [InlineData(1.5, 0.2, 2, null, null)]
    [InlineData(2.5, 0.2, 2, "cpu-time-limit", "used more than 1 s of CPU time per thread (2 threads) and was stopped")]
    [InlineData(0.1, 10.5, 1, "timeout", "ran longer than 10 s of wall-clock time (10 x the 1 s timeout) with 0 s of CPU time, hung, and was stopped")]
    [InlineData(1.5, 10.5, 1, "cpu-time-limit", "used more than 1 s of CPU time and was stopped")]
    public void Exceeded_CpuPerThreadThenWallClock_CategoryAndReason(double cpu, double wall, int threads, string? category, string? reason)
    {
        var limits = Limits with { Timeout = TimeSpan.FromSeconds(1) };

        var exceeded = limits.Exceeded(TimeSpan.FromSeconds(cpu), TimeSpan.FromSeconds(wall), threads);

        Assert.Equal(category, exceeded?.Category);
        Assert.Equal(reason, exceeded?.Message);
    }

    [Fact]
    public void Run_MemoryHog_StoppedAtTheCap()
    {
        // tail keeps the "last line" of an endless stream without newlines, so its memory grows until it is stopped.
        var result = WorkerPool.Run(Bash("hog", "exec tail /dev/zero"), Limits with { MemoryBytes = 100L << 20 });

        Assert.Equal("out-of-memory", result.FailureCategory);
        Assert.Contains("over the cap of 100 MiB", result.FailureMessage);
    }

    [Fact]
    public void Run_UnreadableResult_AWorkerFailureNotACandidateOutcome()
    {
        var result = WorkerPool.Run(Bash("garbage", $"echo '{{not json' > '{Path.Combine(_directory, "garbage.json")}'"), Limits);

        Assert.Equal(FailureCategories.WorkerFailure, result.FailureCategory);
        Assert.True(FailureCategories.IsInfrastructure(result.FailureCategory));
        Assert.Contains("unreadable result", result.FailureMessage);
    }

    [Theory]
    [InlineData("KILL", "SIGKILL (9)")]
    [InlineData("TERM", "SIGTERM (15)")]
    public void Run_KilledFromOutside_KilledIsInfrastructureNotCrash(string signal, string named)
    {
        var result = WorkerPool.Run(Bash("killed", $"kill -{signal} $$"), Limits);

        Assert.Equal(FailureCategories.Killed, result.FailureCategory);
        Assert.True(FailureCategories.IsInfrastructure(result.FailureCategory));
        Assert.Contains($"killed by signal {named}", result.FailureMessage);
    }

    [Fact]
    public void Find_WorkerOfARun_FoundByItsEnvironmentAndEnded()
    {
        var run = Path.Combine(_directory, "run");
        var start = new System.Diagnostics.ProcessStartInfo("sleep", ["60"]) { UseShellExecute = false };
        WorkerLifetime.Mark(start, run);
        using var worker = System.Diagnostics.Process.Start(start)!;

        var found = WorkerLifetime.Find(run);
        var ended = WorkerLifetime.EndStale(run);

        Assert.Equal(worker.Id, Assert.Single(found).Pid);
        Assert.Equal(worker.Id, Assert.Single(ended).Pid);
        Assert.True(worker.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Empty(WorkerLifetime.Find(run));
        Assert.Empty(WorkerLifetime.Find(Path.Combine(_directory, "other")));
    }

    [Fact]
    public void RunAll_OneCrashAmongOthers_EveryJobRecordedInOrder()
    {
        var document = new EvaluationResult { CandidateId = "x", Dataset = "d", Config = TrainingConfig.Quick, Status = "ok" }.ToJson();
        var path = Path.Combine(_directory, "doc.json");
        File.WriteAllText(path, document);
        var jobs = new[]
        {
            Bash("a", $"cp '{path}' '{Path.Combine(_directory, "a.json")}'"),
            Bash("b", "kill -ABRT $$"),
            Bash("c", $"cp '{path}' '{Path.Combine(_directory, "c.json")}'"),
        };

        var results = WorkerPool.RunAll(jobs, parallel: 2, Limits);

        Assert.Equal(["ok", "failed", "ok"], results.Select(r => r.Status));
        Assert.Contains("SIGABRT", results[1].FailureMessage);
    }

    [Theory]
    [InlineData(1, 16, 16)]
    [InlineData(4, 16, 4)]
    [InlineData(3, 2, 1)]
    public void ThreadsPerWorker_DividesCores(int workers, int cores, int expected)
    {
        Assert.Equal(expected, WorkerPool.ThreadsPerWorker(workers, cores));
    }
}
