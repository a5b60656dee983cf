using System.Globalization;
using FairNad.Evaluation.Isolation;
using FairNad.Evaluation.Training;

namespace FairNad.Experiments.Slurm;

/// <summary>
/// Worker jobs as Slurm batch jobs, one per candidate: the same `fairnad evaluate` command line a fresh local worker runs
/// (<see cref="WorkerCommand.EvaluateJob"/>), submitted with `sbatch --parsable` from a script beside the job's spec, config
/// and result document (which must be on a filesystem every node sees), followed with `squeue` (one call for every job
/// in flight) and `scontrol show job` (for the exit code once a job ended), and answered with the result document the
/// worker wrote. A job that ended without one maps to a failure category as a local worker's end does
/// (<see cref="SlurmJobStates.Failure"/>); the evaluator chain retries failures of the infrastructure, each retry a new job.
/// Every job is in the run's <see cref="SlurmJobLog"/> before the runner waits for it: cancellation (Ctrl+C) cancels the
/// jobs waited for (scancel); a runner killed outright leaves them to the cluster, and the resumed runner re-attaches to
/// each by its id, takes the result of one that finished meanwhile, and submits again one that Slurm lost.
/// </summary>
public sealed class SlurmExecutor : IWorkerExecutor, IDisposable
{
    /// <summary>How long a job's result may take to appear after Slurm says it completed (a shared filesystem's attribute cache).</summary>
    public static readonly TimeSpan ResultGrace = TimeSpan.FromSeconds(15);

    /// <summary>How long the queue may be unreadable (controller down) before the jobs waited for count as failures of the infrastructure.</summary>
    public static readonly TimeSpan UnreachableAfter = TimeSpan.FromMinutes(5);

    private readonly ExecutorOptions _options;
    private readonly SlurmCommands _commands;
    private readonly SlurmJobLog _log;
    private readonly string _run;
    private readonly Action<string> _say;
    private readonly TimeSpan _poll;
    private readonly Dictionary<string, string> _open;
    private readonly Dictionary<string, TaskCompletionSource<SlurmJobStatus>> _waiting = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _poller;
    private int _submitted;

    /// <param name="options">The experiment's executor section (kind slurm).</param>
    /// <param name="log">The run's job log; on a resume, its open jobs are re-attached to.</param>
    /// <param name="run">The run's name, in every job's name.</param>
    /// <param name="say">Where re-attachments and resubmissions are told (the run's log).</param>
    public SlurmExecutor(ExecutorOptions options, SlurmJobLog log, string run, Action<string>? say = null, SlurmCommands? commands = null)
    {
        _options = options;
        _commands = commands ?? SlurmCommands.Default;
        _log = log;
        _run = run;
        _say = say ?? (_ => { });
        _poll = TimeSpan.FromSeconds(options.PollSeconds ?? ExecutorOptions.DefaultPollSeconds);
        _open = new Dictionary<string, string>(log.Open(), StringComparer.Ordinal);
    }

    /// <summary>The experiment's executor section.</summary>
    public ExecutorOptions Options => _options;

    /// <summary>Jobs submitted by this runner (resubmissions included; re-attached jobs not).</summary>
    public int JobsSubmitted => Volatile.Read(ref _submitted);

    /// <summary>Every job of the run so far, from the job log.</summary>
    public IReadOnlyList<SlurmJobEntry> Jobs => _log.Jobs();

    /// <summary>The executor in words, for the manifest and the log.</summary>
    public string Description => "Slurm jobs (sbatch, one per candidate" +
        string.Concat(new[] { ("partition", _options.Partition), ("account", _options.Account), ("qos", _options.Qos), ("gpus", _options.Gpus) }
            .Where(o => o.Item2 is not null).Select(o => $", {o.Item1} {o.Item2}")) + ")";

    public async Task<EvaluationResult> RunAsync(WorkerJob job, WorkerLimits limits, CancellationToken cancel = default)
    {
        string? recorded;
        lock (_gate)
        {
            _open.Remove(job.CandidateId, out recorded);
        }

        if (recorded is not null)
        {
            _say($"candidate {Short(job)}: re-attached to Slurm job {recorded}, submitted by an earlier runner of {_run}");
            var (status, cancelled) = await WaitAsync(recorded, cancel).ConfigureAwait(false);
            if (status.State != SlurmJobStatus.Unknown || File.Exists(job.ResultPath))
            {
                return await FinishAsync(job, limits, status, cancelled).ConfigureAwait(false);
            }

            _log.Ended(job.CandidateId, recorded, SlurmJobStatus.Unknown, "lost");
            _say($"candidate {Short(job)}: Slurm no longer knows job {recorded} and it left no result: submitting it again");
        }

        cancel.ThrowIfCancellationRequested();
        var (id, failure) = await SubmitAsync(job, limits).ConfigureAwait(false);
        if (failure is not null)
        {
            return failure;
        }

        var (ended, cancelledHere) = await WaitAsync(id!, cancel).ConfigureAwait(false);
        return await FinishAsync(job, limits, ended, cancelledHere).ConfigureAwait(false);
    }

    /// <summary>
    /// Checks before the first submission that Slurm can take the run's jobs: sbatch is there, the controller answers
    /// (sinfo), the partition exists and is up (or, without one, the cluster has a default partition), and the job
    /// directory, when one is set, can be written (without one, the job files go to the run folder, which is not made before this check).
    /// </summary>
    /// <exception cref="ExperimentException">one of them fails; the message names the command and its output.</exception>
    public static async Task PreflightAsync(ExecutorOptions options, string? jobDirectory, SlurmCommands? commands = null, CancellationToken cancel = default)
    {
        commands ??= SlurmCommands.Default;
        var sbatch = await commands.RunAsync("sbatch", ["--version"], cancel).ConfigureAwait(false);
        if (!sbatch.Started)
        {
            throw new ExperimentException($"executor.kind slurm: sbatch was not found: {sbatch.Describe()}. Install the Slurm client commands (Debian: apt-get install slurm-client) or run where they are on PATH");
        }

        if (sbatch.ExitCode != 0)
        {
            throw new ExperimentException($"executor.kind slurm: sbatch does not work here: {sbatch.Describe()}");
        }

        var sinfo = await commands.RunAsync("sinfo", ["--noheader", "--format=%P|%a"], cancel).ConfigureAwait(false);
        if (!sinfo.Succeeded)
        {
            throw new ExperimentException($"executor.kind slurm: the Slurm cluster is unreachable: {sinfo.Describe()}");
        }

        var partitions = sinfo.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split('|')).Where(p => p.Length == 2)
            .Select(p => (Name: p[0].TrimEnd('*'), Default: p[0].EndsWith('*'), State: p[1])).ToList();
        var listed = partitions.Count == 0 ? "none" : string.Join(", ", partitions.Select(p => $"{p.Name}{(p.Default ? " (default)" : string.Empty)} {p.State}"));
        if (options.Partition is { } name)
        {
            if (partitions.FirstOrDefault(p => p.Name == name) is not { Name: not null } partition)
            {
                throw new ExperimentException($"executor.partition: the Slurm cluster has no partition '{name}': `{sinfo.Command}` lists {listed}");
            }

            if (partition.State != "up")
            {
                throw new ExperimentException($"executor.partition: partition '{name}' is {partition.State}, not up, so jobs would wait forever: `{sinfo.Command}` lists {listed}");
            }
        }
        else if (!partitions.Any(p => p.Default))
        {
            throw new ExperimentException($"executor.partition: not set, and the Slurm cluster has no default partition: `{sinfo.Command}` lists {listed}; set executor.partition or --slurm-partition");
        }

        if (jobDirectory is null)
        {
            return;
        }

        try
        {
            Directory.CreateDirectory(jobDirectory);
            var probe = Path.Combine(jobDirectory, $".fairnad-write-check-{Environment.ProcessId}");
            File.WriteAllText(probe, "ok");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ExperimentException($"executor.jobDirectory: {jobDirectory} cannot be written ({e.Message}); it must be a shared directory every node of the cluster sees");
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _poller?.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // The poller only ever ends by the stop above; its cancellation is no error.
        }

        _stop.Dispose();
    }

    private static string Short(WorkerJob job) => job.CandidateId[..Math.Min(12, job.CandidateId.Length)];

    private async Task<(string? Id, EvaluationResult? Failure)> SubmitAsync(WorkerJob job, WorkerLimits limits)
    {
        File.Delete(job.ResultPath);
        var arguments = SlurmJobScript.SbatchArguments(job, _options, limits, _run);
        File.WriteAllText(SlurmJobScript.ScriptPath(job), SlurmJobScript.Write(job, arguments));

        // Not cancellable: a job sbatch already queued must be known by its id, or nothing could cancel or re-attach to it.
        var sbatch = await _commands.RunAsync("sbatch", arguments, CancellationToken.None).ConfigureAwait(false);
        var id = sbatch.Succeeded ? SlurmJobStates.ParseJobId(sbatch.Output) : null;
        if (id is null)
        {
            return (null, Fail(job, FailureCategories.WorkerFailure, $"the job could not be submitted: {sbatch.Describe()}"));
        }

        _log.Submitted(job.CandidateId, id, _log.Attempts(job.CandidateId) + 1);
        Interlocked.Increment(ref _submitted);
        CrashPoints.Reach("slurm-submitted");
        return (id, null);
    }

    /// <summary>Waits until job <paramref name="id"/> has ended; on cancellation, cancels it (scancel) and says so.</summary>
    private async Task<(SlurmJobStatus Status, bool CancelledHere)> WaitAsync(string id, CancellationToken cancel)
    {
        TaskCompletionSource<SlurmJobStatus> done;
        lock (_gate)
        {
            if (!_waiting.TryGetValue(id, out done!))
            {
                done = new TaskCompletionSource<SlurmJobStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting[id] = done;
            }

            if (_poller is null)
            {
                _poller = Task.Run(PollAsync);
            }
        }

        try
        {
            return (await done.Task.WaitAsync(cancel).ConfigureAwait(false), false);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            lock (_gate)
            {
                _waiting.Remove(id);
            }

            var scancel = await _commands.RunAsync("scancel", [id], CancellationToken.None).ConfigureAwait(false);
            _say(scancel.Succeeded ? $"cancelled Slurm job {id}" : $"could not cancel Slurm job {id}: {scancel.Describe()}");
            return (new SlurmJobStatus(id, "CANCELLED"), true);
        }
    }

    /// <summary>
    /// One loop for every job waited for: squeue for all of them at once; for each that ended, scontrol for its exit code;
    /// one that squeue no longer lists is unknown to Slurm. It ends when nothing is waited for, and starts again with the next wait.
    /// </summary>
    private async Task PollAsync()
    {
        DateTime? failingSince = null;
        while (!_stop.IsCancellationRequested)
        {
            string[] ids;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _poller = null;
                    return;
                }

                ids = [.. _waiting.Keys];
            }

            var squeue = await _commands.RunAsync("squeue", ["--noheader", "--states=all", $"--jobs={string.Join(",", ids)}", "--format=%i|%T|%r"], _stop.Token).ConfigureAwait(false);
            IReadOnlyDictionary<string, (string State, string Reason)>? seen = squeue.Succeeded
                ? SlurmJobStates.ParseSqueue(squeue.Output)
                : squeue.Started && squeue.Text.Contains("Invalid job id", StringComparison.OrdinalIgnoreCase) ? new Dictionary<string, (string, string)>() : null;
            if (seen is null)
            {
                failingSince ??= DateTime.UtcNow;
                if (DateTime.UtcNow - failingSince > UnreachableAfter)
                {
                    foreach (var id in ids)
                    {
                        Complete(new SlurmJobStatus(id, SlurmJobStatus.Unreachable, Reason: squeue.Describe()));
                    }

                    failingSince = null;
                }
            }
            else
            {
                failingSince = null;
                foreach (var id in ids)
                {
                    if (!seen.TryGetValue(id, out var queued))
                    {
                        Complete(new SlurmJobStatus(id, SlurmJobStatus.Unknown));
                    }
                    else if (!SlurmJobStates.IsActive(queued.State))
                    {
                        var scontrol = await _commands.RunAsync("scontrol", ["--oneliner", "show", "job", id], _stop.Token).ConfigureAwait(false);
                        var status = scontrol.Succeeded ? SlurmJobStates.ParseScontrol(scontrol.Output) : null;
                        Complete(status is not null && !SlurmJobStates.IsActive(status.State) ? status : new SlurmJobStatus(id, queued.State, Reason: queued.Reason));
                    }
                }
            }

            try
            {
                await Task.Delay(_poll, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Complete(SlurmJobStatus status)
    {
        TaskCompletionSource<SlurmJobStatus>? done;
        lock (_gate)
        {
            _waiting.Remove(status.JobId, out done);
        }

        done?.TrySetResult(status);
    }

    private async Task<EvaluationResult> FinishAsync(WorkerJob job, WorkerLimits limits, SlurmJobStatus status, bool cancelledHere)
    {
        if (!cancelledHere && status.State == "COMPLETED")
        {
            var deadline = DateTime.UtcNow + ResultGrace;
            while (!File.Exists(job.ResultPath) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200).ConfigureAwait(false);
            }
        }

        if (!cancelledHere && File.Exists(job.ResultPath))
        {
            _log.Ended(job.CandidateId, status.JobId, status.State, "result");
            EvaluationResult result;
            try
            {
                result = EvaluationResult.Parse(await File.ReadAllTextAsync(job.ResultPath).ConfigureAwait(false), job.ResultPath);
            }
            catch (FormatException e)
            {
                return Fail(job, FailureCategories.WorkerFailure, $"the worker of Slurm job {status.JobId} wrote an unreadable result: {e.Message}");
            }

            // On a cluster the device is the node's, given by the job's request (--gpus), not a fact about the candidate:
            // a node without it is the setup's failure, retried and never recorded as the candidate's outcome.
            return result.FailureCategory == FailureCategories.DeviceUnavailable
                ? Fail(job, FailureCategories.WorkerFailure,
                    $"the node of Slurm job {status.JobId} cannot use device {job.Config.Device} ({result.FailureMessage}); give the jobs a GPU (executor.gpus, --slurm-gpus) on a partition that has them, and build with --torch-backend Cuda")
                : result;
        }

        var limitText = string.Create(CultureInfo.InvariantCulture, $"--time={SlurmJobScript.TimeMinutes(_options, limits)} --mem={SlurmJobScript.MemoryMb(_options, limits)}M");
        var (category, message) = SlurmJobStates.Failure(status, cancelledHere, Tail(SlurmJobScript.OutputPath(job, status.JobId)), limitText);
        _log.Ended(job.CandidateId, status.JobId, status.State, category);
        return Fail(job, category, message);
    }

    private static string Tail(string path)
    {
        try
        {
            var text = File.Exists(path) ? File.ReadAllText(path) : string.Empty;
            return text.Length > 2000 ? "..." + text[^2000..] : text;
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    private static EvaluationResult Fail(WorkerJob job, string category, string message) =>
        EvaluationResult.Failure(job.CandidateId, job.Dataset, job.Config, category, message);
}
