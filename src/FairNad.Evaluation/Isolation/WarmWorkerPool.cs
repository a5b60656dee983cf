using System.Collections.Concurrent;
using System.Diagnostics;
using FairNad.Evaluation.Training;

namespace FairNad.Evaluation.Isolation;

/// <summary>
/// Worker processes that stay alive and evaluate job after job (`fairnad worker`: one <see cref="WorkerRequest"/> line in
/// on standard input, one <see cref="DoneMarker"/> line out when the result document is written), so the runtime start,
/// libtorch load and data preparation are paid once per worker instead of once per candidate. The isolation is that of
/// <see cref="WorkerPool"/>, job by job: the timeout (CPU time, <see cref="WorkerLimits"/>) and the resident-memory cap
/// count from the moment a job is sent, and
/// whatever ends a job other than its answer (a crash, a kill from outside, the timeout, the cap, cancellation, an
/// unreadable or missing result) ends that worker too and is classified exactly as for a fresh process, and the next job
/// (a retry included) starts a fresh worker. A worker whose resident memory after a job is above half the cap
/// (<see cref="RecycleBytes"/>) is ended as well, so memory kept from earlier jobs never pushes a later job over the cap.
/// Each worker is started by, and belongs to, one thread of this pool that lives as long as the worker: the kernel's
/// parent-death signal (<see cref="WorkerLifetime"/>) fires when the starting thread ends, not the process.
/// </summary>
public sealed class WarmWorkerPool : IDisposable
{
    /// <summary>What a worker writes on standard output, then a space and the candidate id, when a job's result is written.</summary>
    public const string DoneMarker = "fairnad-worker done";

    private readonly string _fileName;
    private readonly IReadOnlyList<string> _arguments;
    private readonly long? _recycleAbove;
    private readonly BlockingCollection<Item> _queue = new();
    private readonly List<Thread> _threads = [];
    private int _started;

    /// <param name="fileName">The program that serves jobs.</param>
    /// <param name="arguments">Its arguments (normally the assembly, if any, and `worker`).</param>
    /// <param name="size">Workers at most at once: jobs beyond wait for one.</param>
    /// <param name="recycleAboveBytes">Replaces <see cref="RecycleBytes"/> (tests; 0 recycles after every job).</param>
    public WarmWorkerPool(string fileName, IReadOnlyList<string> arguments, int size, long? recycleAboveBytes = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        (_fileName, _arguments, _recycleAbove) = (fileName, arguments, recycleAboveBytes);
        for (var i = 0; i < size; i++)
        {
            var slot = new Slot(this);
            var thread = new Thread(() => Serve(slot)) { IsBackground = true, Name = $"fairnad warm worker {i}" };
            _threads.Add(thread);
            thread.Start();
        }
    }

    /// <summary>Worker processes started so far (the first of each slot and every replacement), for tests and benchmarks.</summary>
    public int WorkersStarted => Volatile.Read(ref _started);

    /// <summary>
    /// The resident memory above which a worker is ended after a job: half the cap, i.e. the memory budget. A job's own
    /// peak is predicted within the budget (<see cref="MemoryModel"/>), so a worker that keeps at most another budget's
    /// worth from earlier jobs cannot be pushed over the cap (twice the budget) by what it kept.
    /// </summary>
    public static long RecycleBytes(WorkerLimits limits) => limits.MemoryBytes / 2;

    /// <summary>Runs <paramref name="job"/> (which must carry a <see cref="WorkerJob.Request"/>) on the next free warm worker.</summary>
    public Task<EvaluationResult> RunAsync(WorkerJob job, WorkerLimits limits, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(job.Request);
        var item = new Item(job, limits, cancel, new TaskCompletionSource<EvaluationResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        _queue.Add(item, cancel);
        return item.Done.Task;
    }

    /// <summary>Runs <paramref name="job"/> and waits for it.</summary>
    public EvaluationResult Run(WorkerJob job, WorkerLimits limits, CancellationToken cancel = default) => RunAsync(job, limits, cancel).GetAwaiter().GetResult();

    /// <summary>Lets running jobs finish, then ends every worker (standard input closed; killed if it does not exit).</summary>
    public void Dispose()
    {
        _queue.CompleteAdding();
        foreach (var thread in _threads)
        {
            thread.Join();
        }

        _queue.Dispose();
    }

    private void Serve(Slot slot)
    {
        try
        {
            foreach (var item in _queue.GetConsumingEnumerable())
            {
                if (item.Cancel.IsCancellationRequested)
                {
                    item.Done.TrySetCanceled(item.Cancel);
                    continue;
                }

                try
                {
                    item.Done.TrySetResult(slot.Run(item.Job, item.Limits, item.Cancel));
                }
                catch (Exception e)
                {
                    // A bug of this pool, not of the candidate: never leave the caller waiting, and start over with a fresh worker.
                    slot.End(kill: true);
                    item.Done.TrySetResult(WorkerPool.Fail(item.Job, FailureCategories.WorkerFailure, $"the warm worker pool failed: {e.GetType().Name}: {e.Message}"));
                }
            }
        }
        finally
        {
            slot.End(kill: false);
        }
    }

    private sealed record Item(WorkerJob Job, WorkerLimits Limits, CancellationToken Cancel, TaskCompletionSource<EvaluationResult> Done);

    /// <summary>One worker process at a time, started and used only by its pool thread.</summary>
    private sealed class Slot(WarmWorkerPool pool)
    {
        private readonly WorkerPool.Tail _stderr = new(4096);
        private readonly SemaphoreSlim _answered = new(0);
        private Process? _process;
        private string? _key;
        private int _answers;

        public EvaluationResult Run(WorkerJob job, WorkerLimits limits, CancellationToken cancel)
        {
            File.Delete(job.ResultPath);
            // A worker is reused only for jobs of the same run and environment (a test's crash point, an allocator setting).
            var key = $"{job.RunDirectory}\n{string.Join("\n", (job.Environment ?? new Dictionary<string, string>()).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"))}";
            if (_process is null || _process.HasExited || _key != key)
            {
                End(kill: false);
                if (Start(job) is { } failure)
                {
                    return failure;
                }

                _key = key;
            }

            var process = _process!;
            _stderr.Clear();
            var expected = Volatile.Read(ref _answers) + 1;
            // The job's CPU time is the worker's from here on: what it used for earlier jobs and its start-up is not the job's.
            var cpuBefore = WorkerPool.ProcessorTime(process);
            var watch = Stopwatch.StartNew();
            try
            {
                process.StandardInput.WriteLine(job.Request!.ToLine());
                process.StandardInput.Flush();
            }
            catch (IOException)
            {
                // The worker died since its last job; what it died of is in its exit code, below.
            }

            long peak = 0;
            var reached = false;
            while (Volatile.Read(ref _answers) < expected)
            {
                if (process.HasExited)
                {
                    process.WaitForExit(); // drains the redirected streams
                    var code = process.ExitCode;
                    End(kill: false);
                    return File.Exists(job.ResultPath) ? WorkerPool.ReadResult(job) : WorkerPool.Exited(job, code, _stderr.ToString());
                }

                peak = Math.Max(peak, WorkerPool.ResidentBytes(process));
                if (!reached && watch.Elapsed > TimeSpan.FromSeconds(1))
                {
                    reached = true;
                    CrashPoints.Reach("worker-running");
                }

                var killed = cancel.IsCancellationRequested ? (FailureCategories.Cancelled, "the run was cancelled")
                    : limits.Exceeded(WorkerPool.ProcessorTime(process) - cpuBefore, watch.Elapsed, job.Config.Threads) is { } overTime ? overTime
                    : peak > limits.MemoryBytes ? (FailureCategories.OutOfMemory, $"resident memory reached {peak / 1048576} MiB, over the cap of {limits.MemoryBytes / 1048576} MiB, and the worker was stopped")
                    : ((string, string)?)null;
                if (killed is { } reason)
                {
                    End(kill: true);
                    return WorkerPool.Fail(job, reason.Item1, reason.Item2);
                }

                _answered.Wait(WorkerPool.Poll);
            }

            if (!File.Exists(job.ResultPath))
            {
                End(kill: true);
                return WorkerPool.Fail(job, FailureCategories.WorkerFailure, $"the worker answered without writing {job.ResultPath}; stderr: {_stderr}".TrimEnd(' ', ';', ':'));
            }

            var result = WorkerPool.ReadResult(job);
            if (result.FailureCategory == FailureCategories.WorkerFailure || WorkerPool.ResidentBytes(process) > (pool._recycleAbove ?? RecycleBytes(limits)))
            {
                End(kill: result.FailureCategory == FailureCategories.WorkerFailure);
            }

            return result;
        }

        /// <summary>Ends the worker, if any: standard input closed so it exits between jobs, or killed.</summary>
        public void End(bool kill)
        {
            if (_process is not { } process)
            {
                return;
            }

            _process = null;
            _key = null;
            try
            {
                if (!kill && !process.HasExited)
                {
                    process.StandardInput.Close();
                }

                if (kill || !process.WaitForExit(TimeSpan.FromSeconds(10)))
                {
                    process.Kill(entireProcessTree: true);
                }

                process.WaitForExit();
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or System.ComponentModel.Win32Exception)
            {
                // Already gone.
            }
            finally
            {
                process.Dispose();
            }
        }

        private EvaluationResult? Start(WorkerJob job)
        {
            var start = new ProcessStartInfo(pool._fileName) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in pool._arguments)
            {
                start.ArgumentList.Add(argument);
            }

            foreach (var (name, value) in job.Environment ?? new Dictionary<string, string>())
            {
                start.Environment[name] = value;
            }

            WorkerLifetime.Mark(start, job.RunDirectory);
            try
            {
                _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {pool._fileName}");
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                return WorkerPool.Fail(job, FailureCategories.WorkerFailure, $"could not start the worker {pool._fileName}: {e.Message}");
            }

            Interlocked.Increment(ref pool._started);
            _process.ErrorDataReceived += (_, e) => _stderr.Add(e.Data);
            _process.OutputDataReceived += (_, e) =>
            {
                // Anything else on standard output (a native library's print) is not an answer.
                if (e.Data is { } line && line.StartsWith(DoneMarker, StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref _answers);
                    _answered.Release();
                }
            };
            _process.BeginErrorReadLine();
            _process.BeginOutputReadLine();
            return null;
        }
    }
}
