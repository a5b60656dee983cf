using System.Diagnostics;
using FairNad.Evaluation.Isolation;
using FairNad.Evaluation.Training;

namespace FairNad.Evaluation.Tests.Isolation;

/// <summary>
/// The warm pool's protocol and isolation with a stand-in worker: a bash loop that reads request lines and, by the request's
/// spec field, answers with a result document naming its pid, faults, hangs, eats memory or answers wrongly.
/// </summary>
public sealed class WarmWorkerPoolTests : IDisposable
{
    private static readonly WorkerLimits Limits = new(TimeSpan.FromSeconds(20), 400L << 20);

    // Fields of a one-line JSON request, by sed (the stand-in must not need anything bash does not have).
    private const string Script = """
        while IFS= read -r line; do
          spec=$(printf '%s' "$line" | sed -E 's/.*"spec":"([^"]*)".*/\1/')
          out=$(printf '%s' "$line" | sed -E 's/.*"out":"([^"]*)".*/\1/')
          case "$spec" in
            good) sed "s/PID/$$/" "$TEMPLATE" > "$out.tmp" && mv "$out.tmp" "$out"; echo "noise on stdout"; echo "fairnad-worker done $spec" ;;
            segv) echo 'about to fault' >&2; kill -SEGV $$ ;;
            exit3) echo 'no data' >&2; exit 3 ;;
            hang) sleep 60 ;;
            spin) while :; do :; done ;;
            hog) exec tail /dev/zero ;;
            garbage) echo '{not json' > "$out"; echo "fairnad-worker done $spec" ;;
            silent) echo "fairnad-worker done $spec" ;;
          esac
        done
        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-warm-").FullName;
    private readonly string _template;
    private int _jobs;

    public WarmWorkerPoolTests()
    {
        _template = Path.Combine(_directory, "template.json");
        File.WriteAllText(_template, new EvaluationResult { CandidateId = "c", Dataset = "fashion-mnist", Config = TrainingConfig.Quick, Status = "ok", WorkerHost = "PID" }.ToJson());
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private WarmWorkerPool Pool(int size = 1, long? recycleAboveBytes = null) => new("bash", ["-c", Script], size, recycleAboveBytes);

    private WorkerJob Job(string kind)
    {
        var result = Path.Combine(_directory, $"{kind}-{Interlocked.Increment(ref _jobs)}.json");
        return new WorkerJob("c", "fashion-mnist", TrainingConfig.Quick, "unused", [], result, Environment: new Dictionary<string, string> { ["TEMPLATE"] = _template },
            Request: new WorkerRequest(kind, "fashion-mnist", null, "config.json", result));
    }

    [Fact]
    public void Run_SeveralJobs_OneWorkerServesThemAll()
    {
        using var pool = Pool();

        var results = Enumerable.Range(0, 3).Select(_ => pool.Run(Job("good"), Limits)).ToList();

        Assert.All(results, r => Assert.Equal("ok", r.Status));
        Assert.Single(results.Select(r => r.WorkerHost).Distinct());
        Assert.Equal(1, pool.WorkersStarted);
    }

    [Fact]
    public void Run_NativeFault_CrashWithSignalThenNextJobOnAFreshWorker()
    {
        using var pool = Pool();
        var before = pool.Run(Job("good"), Limits);

        var crash = pool.Run(Job("segv"), Limits);
        var after = pool.Run(Job("good"), Limits);

        Assert.Equal(("failed", FailureCategories.Crash), (crash.Status, crash.FailureCategory));
        Assert.Contains("killed by signal SIGSEGV (11)", crash.FailureMessage);
        Assert.Contains("about to fault", crash.FailureMessage);
        Assert.Equal("ok", after.Status);
        Assert.NotEqual(before.WorkerHost, after.WorkerHost);
        Assert.Equal(2, pool.WorkersStarted);
    }

    [Fact]
    public void Run_ExitWithoutResult_CrashWithCodeAsForAFreshProcess()
    {
        using var pool = Pool();

        var result = pool.Run(Job("exit3"), Limits);

        Assert.Equal(FailureCategories.Crash, result.FailureCategory);
        Assert.Contains("exited with code 3 without a result; stderr: no data", result.FailureMessage);
    }

    [Fact]
    public void Run_Hang_TimeoutThenNextJobOnAFreshWorker()
    {
        using var pool = Pool();
        var before = pool.Run(Job("good"), Limits);

        var hang = pool.Run(Job("hang"), Limits with { Timeout = TimeSpan.FromSeconds(1), WallClockFactor = 3 });
        var after = pool.Run(Job("good"), Limits);

        Assert.Equal(FailureCategories.Timeout, hang.FailureCategory);
        Assert.Contains("ran longer than 3 s of wall-clock time", hang.FailureMessage);
        Assert.Equal("ok", after.Status);
        Assert.NotEqual(before.WorkerHost, after.WorkerHost);
    }

    [Fact]
    public void Run_Spin_StoppedAtItsCpuTimeThenNextJobOnAFreshWorker()
    {
        using var pool = Pool();
        var before = pool.Run(Job("good"), Limits);

        var spin = pool.Run(Job("spin"), Limits with { Timeout = TimeSpan.FromSeconds(1), WallClockFactor = 60 });
        var after = pool.Run(Job("good"), Limits);

        Assert.Equal(FailureCategories.CpuTimeLimit, spin.FailureCategory);
        Assert.Contains("used more than 1 s of CPU time", spin.FailureMessage);
        Assert.Equal("ok", after.Status);
        Assert.NotEqual(before.WorkerHost, after.WorkerHost);
    }

    [Fact]
    public void Run_MemoryHog_StoppedAtTheCapThenNextJobOnAFreshWorker()
    {
        using var pool = Pool();

        var hog = pool.Run(Job("hog"), Limits with { MemoryBytes = 100L << 20 });
        var after = pool.Run(Job("good"), Limits);

        Assert.Equal(FailureCategories.OutOfMemory, hog.FailureCategory);
        Assert.Contains("over the cap of 100 MiB", hog.FailureMessage);
        Assert.Equal("ok", after.Status);
        Assert.Equal(2, pool.WorkersStarted);
    }

    [Theory]
    [InlineData("garbage", "unreadable result")]
    [InlineData("silent", "answered without writing")]
    public void Run_BadAnswer_WorkerFailureAndTheWorkerReplaced(string kind, string message)
    {
        using var pool = Pool();

        var bad = pool.Run(Job(kind), Limits);
        var after = pool.Run(Job("good"), Limits);

        Assert.Equal(FailureCategories.WorkerFailure, bad.FailureCategory);
        Assert.True(FailureCategories.IsInfrastructure(bad.FailureCategory));
        Assert.Contains(message, bad.FailureMessage);
        Assert.Equal("ok", after.Status);
        Assert.Equal(2, pool.WorkersStarted);
    }

    [Fact]
    public void Run_KilledWhileIdle_NextJobOnAFreshWorkerAndNotAFailure()
    {
        using var pool = Pool();
        var before = pool.Run(Job("good"), Limits);
        using (var worker = Process.GetProcessById(int.Parse(before.WorkerHost, System.Globalization.CultureInfo.InvariantCulture)))
        {
            worker.Kill();
            worker.WaitForExit();
        }

        var after = pool.Run(Job("good"), Limits);

        Assert.Equal("ok", after.Status);
        Assert.NotEqual(before.WorkerHost, after.WorkerHost);
    }

    [Fact]
    public void Run_ResidentMemoryAboveTheRecycleThreshold_WorkerReplacedAfterTheJob()
    {
        using var pool = Pool(recycleAboveBytes: 0);

        var first = pool.Run(Job("good"), Limits);
        var second = pool.Run(Job("good"), Limits);

        Assert.Equal(("ok", "ok"), (first.Status, second.Status));
        Assert.NotEqual(first.WorkerHost, second.WorkerHost);
        Assert.Equal(2, pool.WorkersStarted);
    }

    [Fact]
    public void RecycleBytes_HalfTheCap_TheMemoryBudget()
    {
        Assert.Equal(2L << 30, WarmWorkerPool.RecycleBytes(new WorkerLimits(TimeSpan.FromHours(1), 4L << 30)));
    }

    [Fact]
    public async Task RunAsync_MoreJobsThanWorkers_AllDoneOnAtMostThatManyWorkers()
    {
        using var pool = Pool(size: 2);

        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => pool.RunAsync(Job("good"), Limits)));

        Assert.All(results, r => Assert.Equal("ok", r.Status));
        Assert.InRange(results.Select(r => r.WorkerHost).Distinct().Count(), 1, 2);
        Assert.Equal(2, pool.WorkersStarted);
    }

    [Fact]
    public async Task Dispose_WorkersAlive_EveryWorkerEnded()
    {
        var run = Path.Combine(_directory, "run");
        var pool = Pool(size: 2);
        var job = Job("good") with { RunDirectory = run };
        await Task.WhenAll(pool.RunAsync(job, Limits), pool.RunAsync(Job("good") with { RunDirectory = run }, Limits));
        Assert.NotEmpty(WorkerLifetime.Find(run));

        pool.Dispose();

        Assert.Empty(WorkerLifetime.Find(run));
    }
}
