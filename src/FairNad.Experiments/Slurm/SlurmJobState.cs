using System.Globalization;
using FairNad.Evaluation.Training;

namespace FairNad.Experiments.Slurm;

/// <summary>
/// What Slurm says of one job: its state (squeue's %T, scontrol's JobState), its exit code and the signal that ended it
/// (scontrol's ExitCode=code:signal), and the reason Slurm gives.
/// </summary>
public sealed record SlurmJobStatus(string JobId, string State, int ExitCode = 0, int Signal = 0, string? Reason = null)
{
    /// <summary>A job Slurm does not know (any more): purged after MinJobAge, or the controller lost its state.</summary>
    public const string Unknown = "UNKNOWN";

    /// <summary>The queue could not be read for long enough to give up waiting (<see cref="SlurmExecutor"/>).</summary>
    public const string Unreachable = "UNREACHABLE";
}

/// <summary>
/// Slurm's job states and what each means here: still in the queue, or ended; and for a job that ended without a result
/// document, the failure category it maps to, consistent with local workers (<see cref="FailureCategories"/>): a fault of
/// the worker itself is a crash; a time limit, a memory limit, a node that failed, a preemption or a cancellation by
/// someone else are failures of the infrastructure, retried (a new job) and never recorded.
/// </summary>
public static class SlurmJobStates
{
    /// <summary>States of a job that has not ended: the runner keeps waiting.</summary>
    public static readonly IReadOnlySet<string> Active = new HashSet<string>(StringComparer.Ordinal)
    {
        "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "RESV_DEL_HOLD",
        "SIGNALING", "STAGE_OUT", "STOPPED", "SPECIAL_EXIT",
    };

    /// <summary>States of a job that ended on the cluster's account, not the candidate's: retried as a new job.</summary>
    public static readonly IReadOnlySet<string> EndedByTheCluster = new HashSet<string>(StringComparer.Ordinal)
    {
        "NODE_FAIL", "BOOT_FAIL", "PREEMPTED", "DEADLINE", "REVOKED", "CANCELLED",
    };

    /// <summary>The bare state: scontrol may add words ("CANCELLED by 0"), sacct a '+' ("CANCELLED+").</summary>
    public static string Normalise(string state) => state.Trim().Split(' ', '+')[0].ToUpperInvariant();

    public static bool IsActive(string state) => Active.Contains(Normalise(state));

    /// <summary>
    /// The failure of job <paramref name="status"/>, which ended without a result document. <paramref name="cancelledHere"/>:
    /// this runner cancelled it (Ctrl+C). <paramref name="output"/> is the end of the job's output file, for the message.
    /// </summary>
    public static (string Category, string Message) Failure(SlurmJobStatus status, bool cancelledHere, string output, string? limits = null)
    {
        var state = Normalise(status.State);
        var job = $"Slurm job {status.JobId}";
        var tail = output.Trim().Length > 0 ? $"; output: {output.Trim()}" : string.Empty;
        if (cancelledHere)
        {
            return (FailureCategories.Cancelled, $"the run was cancelled; {job} was cancelled (scancel)");
        }

        switch (state)
        {
            case "TIMEOUT":
                return (FailureCategories.Timeout, $"{job} ran into its time limit{(limits is null ? string.Empty : $" ({limits})")} and Slurm stopped it{tail}");
            case "OUT_OF_MEMORY":
                return (FailureCategories.OutOfMemory, $"{job} went over its memory limit{(limits is null ? string.Empty : $" ({limits})")} and Slurm stopped it{tail}");
            case SlurmJobStatus.Unknown:
                return (FailureCategories.Killed, $"Slurm no longer knows {job} and it left no result (purged, or the controller lost it){tail}");
            case SlurmJobStatus.Unreachable:
                return (FailureCategories.WorkerFailure, $"the Slurm queue could not be read while {job} was waiting ({status.Reason}){tail}");
        }

        if (EndedByTheCluster.Contains(state))
        {
            var why = state == "CANCELLED" ? "was cancelled from outside (scancel by a user or an administrator)" : $"ended {state} (the cluster's doing, not the candidate's)";
            return (FailureCategories.Killed, $"{job} {why}{tail}");
        }

        // COMPLETED or FAILED without a result: how the worker's process ended, read as a local worker's exit is.
        var signal = status.Signal > 0 ? status.Signal : status.ExitCode is > 128 and < 160 ? status.ExitCode - 128 : 0;
        if (signal > 0)
        {
            // SIGKILL, SIGTERM, SIGINT and SIGHUP come from outside the worker (Slurm, the kernel's OOM killer, a user).
            var category = signal is 9 or 15 or 2 or 1 ? FailureCategories.Killed : FailureCategories.Crash;
            return (category, $"the worker of {job} was killed by signal {signal.ToString(CultureInfo.InvariantCulture)} ({state}){tail}");
        }

        if (status.ExitCode is 126 or 127)
        {
            // The shell of the job could not run the worker: the node lacks the program (or cannot execute it). The cluster's
            // setup, not the candidate: retried, never recorded.
            return (FailureCategories.WorkerFailure, $"{job} could not start the worker (exit code {status.ExitCode}: the command is missing or not executable on the node; is the harness on a shared filesystem?){tail}");
        }

        return (FailureCategories.Crash, $"the worker of {job} exited with code {status.ExitCode} without a result ({state}){tail}");
    }

    /// <summary>Lines of `squeue -h -t all -j ids -o '%i|%T|%r'`: job id to (state, reason).</summary>
    public static IReadOnlyDictionary<string, (string State, string Reason)> ParseSqueue(string output)
    {
        var jobs = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split('|');
            if (parts.Length >= 2)
            {
                jobs[parts[0]] = (Normalise(parts[1]), parts.Length > 2 ? parts[2] : string.Empty);
            }
        }

        return jobs;
    }

    /// <summary>One job's line of `scontrol -o show job ID`: its state, exit code and signal, and reason; null when the line names no job.</summary>
    public static SlurmJobStatus? ParseScontrol(string line)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var token in line.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = token.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                fields.TryAdd(token[..equals], token[(equals + 1)..]);
            }
        }

        if (!fields.TryGetValue("JobId", out var id) || !fields.TryGetValue("JobState", out var state))
        {
            return null;
        }

        var (code, signal) = (0, 0);
        if (fields.TryGetValue("ExitCode", out var exit) && exit.Split(':') is [var c, var s])
        {
            code = int.TryParse(c, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ci) ? ci : 0;
            signal = int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var si) ? si : 0;
        }

        return new SlurmJobStatus(id, Normalise(state), code, signal, fields.GetValueOrDefault("Reason"));
    }

    /// <summary>The job id sbatch --parsable printed ("123" or "123;cluster"); null when it printed none.</summary>
    public static string? ParseJobId(string output)
    {
        var first = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        var id = first?.Split(';')[0];
        return id is { Length: > 0 } && id.All(char.IsAsciiDigit) ? id : null;
    }
}
