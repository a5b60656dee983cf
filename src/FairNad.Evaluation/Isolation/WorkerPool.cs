using System.Diagnostics;
using System.Text;
using FairNad.Evaluation.Training;

namespace FairNad.Evaluation.Isolation;

/// <summary>
/// Time and resident-memory limits of one worker job. <see cref="Timeout"/> limits the CPU time the job uses (user plus
/// system, over all the worker's threads) per libtorch thread it was given, not the wall-clock time: on a machine busy
/// with other work a job takes many times its idle wall-clock time but about the same CPU time, so how loaded the machine
/// is does not decide whether a run gets through (a wall-clock limit stopped the quickstart at load 15 on 2 cores). A
/// wall-clock backstop of <see cref="WallClockFactor"/> times the timeout still ends a worker that hangs without using
/// the CPU (a deadlock, a read that never returns).
/// </summary>
public sealed record WorkerLimits(TimeSpan Timeout, long MemoryBytes)
{
    public static WorkerLimits Default => new(TimeSpan.FromHours(2), 8L << 30);

    /// <summary>The wall-clock backstop as a multiple of <see cref="Timeout"/>: large enough that only a worker that stopped using the CPU reaches it.</summary>
    public double WallClockFactor { get; init; } = 10;

    /// <summary>The wall-clock time after which a job is stopped whatever CPU time it has used.</summary>
    public TimeSpan WallClockLimit => Timeout * WallClockFactor;

    /// <summary>
    /// Why a job that has used <paramref name="cpu"/> of CPU time in <paramref name="wall"/> of wall-clock time with
    /// <paramref name="threads"/> libtorch threads must be stopped, as its failure category and message, or null: over
    /// <see cref="Timeout"/> of CPU time per thread (<see cref="FailureCategories.CpuTimeLimit"/>), or over
    /// <see cref="WallClockLimit"/> (<see cref="FailureCategories.Timeout"/>).
    /// </summary>
    public (string Category, string Message)? Exceeded(TimeSpan cpu, TimeSpan wall, int threads)
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        var perThread = Math.Max(1, threads);
        return cpu > Timeout * perThread
            ? (FailureCategories.CpuTimeLimit, string.Create(c, $"used more than {Timeout.TotalSeconds:F0} s of CPU time{(perThread > 1 ? $" per thread ({perThread} threads)" : string.Empty)} and was stopped"))
            : wall > WallClockLimit
                ? (FailureCategories.Timeout, string.Create(c, $"ran longer than {WallClockLimit.TotalSeconds:F0} s of wall-clock time ({WallClockFactor:G} x the {Timeout.TotalSeconds:F0} s timeout) with {cpu.TotalSeconds:F0} s of CPU time, hung, and was stopped"))
                : null;
    }
}

/// <summary>
/// One candidate to evaluate in a child process: the command that trains it and writes its result document to
/// <see cref="ResultPath"/> (normally <c>fairnad evaluate ... --out ResultPath</c>).
/// </summary>
/// <param name="RunDirectory">The run the worker works for, in its environment, so a resumed run can find workers left behind.</param>
/// <param name="Environment">Extra environment variables of the worker.</param>
/// <param name="Request">The same job as one line for a warm worker (<see cref="WarmWorkerPool"/>); null when only a fresh process can run it.</param>
public sealed record WorkerJob(string CandidateId, string Dataset, TrainingConfig Config, string FileName, IReadOnlyList<string> Arguments, string ResultPath, string? RunDirectory = null,
    IReadOnlyDictionary<string, string>? Environment = null, WorkerRequest? Request = null);

/// <summary>
/// One job of a warm worker's protocol (`fairnad worker`), sent as one JSON line on its standard input: the files a cold
/// worker would get on its command line. The worker writes the result document to <see cref="Out"/> atomically, as
/// `fairnad evaluate --out` does, then answers one line (<see cref="WarmWorkerPool.DoneMarker"/> and the candidate id).
/// </summary>
/// <param name="Spec">The spec file.</param>
/// <param name="Dataset">The dataset's name.</param>
/// <param name="DataDirectory">Where datasets live; null for the default.</param>
/// <param name="Config">The training config document.</param>
/// <param name="Out">Where the result document goes.</param>
public sealed record WorkerRequest(string Spec, string Dataset, string? DataDirectory, string Config, string Out)
{
    private static readonly System.Text.Json.JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The request as one line (no newline inside: JSON escapes them).</summary>
    public string ToLine() => System.Text.Json.JsonSerializer.Serialize(this, Json);

    /// <exception cref="FormatException">the line is not a request.</exception>
    public static WorkerRequest Parse(string line)
    {
        try
        {
            var request = System.Text.Json.JsonSerializer.Deserialize<WorkerRequest>(line, Json);
            return request is { Spec: not null, Dataset: not null, Config: not null, Out: not null } ? request : throw new FormatException($"not a worker request: {line}");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new FormatException($"not a worker request ({e.Message}): {line}", e);
        }
    }
}

/// <summary>
/// Runs candidates in child processes so that a crash, a native fault, running out of memory or running too long ends
/// that candidate only: each becomes a failed <see cref="EvaluationResult"/> with a category (<see cref="FailureCategories"/>:
/// a fault of the worker is a crash; a timeout, the memory cap, a kill from outside or an unusable worker are failures
/// of the infrastructure, which the caller retries) and a message, and the caller goes on. Memory is watched as the
/// child's resident set (polled), because libtorch allocates natively, where .NET heap limits do not reach. Workers die
/// with this process (<see cref="WorkerLifetime"/>); the thread that starts a worker waits for it until it exits, which the
/// parent-death signal needs.
/// </summary>
public static class WorkerPool
{
    internal static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    /// <summary>libtorch threads per worker so that workers x threads does not exceed the cores.</summary>
    public static int ThreadsPerWorker(int workers, int? cores = null) => Math.Max(1, (cores ?? Environment.ProcessorCount) / Math.Max(1, workers));

    /// <summary>Runs <paramref name="jobs"/> with at most <paramref name="parallel"/> at a time; results come back in job order.</summary>
    public static IReadOnlyList<EvaluationResult> RunAll(IReadOnlyList<WorkerJob> jobs, int parallel, WorkerLimits limits, Action<int, EvaluationResult>? onDone = null, CancellationToken cancel = default)
    {
        var results = new EvaluationResult[jobs.Count];
        var gate = new Lock();
        Parallel.For(0, jobs.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallel), CancellationToken = cancel }, i =>
        {
            results[i] = Run(jobs[i], limits, cancel);
            lock (gate)
            {
                onDone?.Invoke(i, results[i]);
            }
        });
        return results;
    }

    public static EvaluationResult Run(WorkerJob job, WorkerLimits limits, CancellationToken cancel = default)
    {
        File.Delete(job.ResultPath);
        var start = new ProcessStartInfo(job.FileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in job.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in job.Environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        WorkerLifetime.Mark(start, job.RunDirectory);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {job.FileName}");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return Fail(job, FailureCategories.WorkerFailure, $"could not start the worker {job.FileName}: {e.Message}");
        }

        using (process)
        {
            var stderr = new Tail(4096);
            process.ErrorDataReceived += (_, e) => stderr.Add(e.Data);
            process.OutputDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            var watch = Stopwatch.StartNew();
            long peak = 0;
            string? killed = null;
            string? category = null;
            var training = false;
            while (!process.WaitForExit(Poll))
            {
                peak = Math.Max(peak, ResidentBytes(process));
                var overTime = limits.Exceeded(ProcessorTime(process), watch.Elapsed, job.Config.Threads);
                if (!training && watch.Elapsed > TimeSpan.FromSeconds(1))
                {
                    training = true;
                    CrashPoints.Reach("worker-running");
                }

                if (cancel.IsCancellationRequested)
                {
                    (category, killed) = (FailureCategories.Cancelled, "the run was cancelled");
                }
                else if (overTime is { } over)
                {
                    (category, killed) = over;
                }
                else if (peak > limits.MemoryBytes)
                {
                    (category, killed) = (FailureCategories.OutOfMemory, $"resident memory reached {peak / 1048576} MiB, over the cap of {limits.MemoryBytes / 1048576} MiB, and the worker was stopped");
                }

                if (killed is not null)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit();
                    return Fail(job, category!, killed);
                }
            }

            process.WaitForExit(); // drains the redirected streams
            if (File.Exists(job.ResultPath))
            {
                return ReadResult(job);
            }

            return Exited(job, process.ExitCode, stderr.ToString());
        }
    }

    /// <summary>The failure of a worker that ended during <paramref name="job"/> without a result, from its exit code.</summary>
    internal static EvaluationResult Exited(WorkerJob job, int code, string stderr)
    {
        var signal = code > 128 && code < 160 ? code - 128 : 0;
        var reason = signal > 0
            ? $"the worker was killed by signal {SignalName(signal)} ({signal})"
            : $"the worker exited with code {code} without a result";
        // SIGKILL, SIGTERM, SIGINT and SIGHUP come from outside the worker (the kernel's OOM killer, a user, a closed
        // terminal): the machine's doing, not the candidate's. Other signals and exits are faults of the worker itself.
        var fault = signal is 9 or 15 or 2 or 1 ? FailureCategories.Killed : FailureCategories.Crash;
        return Fail(job, fault, $"{reason}; stderr: {stderr}".TrimEnd(' ', ';', ':'));
    }

    /// <summary>The result document the worker wrote for <paramref name="job"/>; an unreadable one is a failure of the worker.</summary>
    internal static EvaluationResult ReadResult(WorkerJob job)
    {
        try
        {
            return EvaluationResult.Parse(File.ReadAllText(job.ResultPath), job.ResultPath);
        }
        catch (FormatException e)
        {
            return Fail(job, FailureCategories.WorkerFailure, $"the worker wrote an unreadable result: {e.Message}");
        }
    }

    internal static EvaluationResult Fail(WorkerJob job, string category, string message) =>
        EvaluationResult.Failure(job.CandidateId, job.Dataset, job.Config, category, message);

    /// <summary>
    /// The CPU time the process has used so far (user plus system, all its threads); zero when it cannot be read (the
    /// process exited between checks; the caller sees the exit next).
    /// </summary>
    internal static TimeSpan ProcessorTime(Process process)
    {
        try
        {
            process.Refresh();
            return process.TotalProcessorTime;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return TimeSpan.Zero;
        }
    }

    internal static long ResidentBytes(Process process)
    {
        try
        {
            process.Refresh();
            return process.WorkingSet64;
        }
        catch (InvalidOperationException)
        {
            return 0; // exited between checks
        }
    }

    private static string SignalName(int signal) => signal switch
    {
        1 => "SIGHUP",
        2 => "SIGINT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        15 => "SIGTERM",
        _ => $"signal {signal}",
    };

    /// <summary>The last few KiB of a stream's lines.</summary>
    internal sealed class Tail(int capacity)
    {
        private readonly StringBuilder _text = new();
        private readonly Lock _gate = new();

        public void Add(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_gate)
            {
                _text.Append(line).Append('\n');
                if (_text.Length > capacity)
                {
                    _text.Remove(0, _text.Length - capacity);
                }
            }
        }

        public void Clear()
        {
            lock (_gate)
            {
                _text.Clear();
            }
        }

        public override string ToString()
        {
            lock (_gate)
            {
                return _text.ToString().Trim();
            }
        }
    }
}
