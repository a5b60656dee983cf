using System.Globalization;
using System.Text;
using FairNad.Evaluation.Isolation;

namespace FairNad.Experiments.Slurm;

/// <summary>
/// One candidate as a Slurm batch job: a shell script that runs the worker's command line (the same `fairnad evaluate`
/// a fresh local worker runs) and the sbatch arguments that submit it. The options are sbatch arguments rather than
/// #SBATCH lines, so a path with spaces needs no parsing rules of sbatch's; the script's header repeats the sbatch
/// command, so a job can be resubmitted by hand.
/// </summary>
public static class SlurmJobScript
{
    /// <summary>The job's script: beside the result document, named after it.</summary>
    public static string ScriptPath(WorkerJob job) => Path.ChangeExtension(job.ResultPath, ".sbatch");

    /// <summary>The job's output file pattern (%j: the job id), beside the result document.</summary>
    public static string OutputPattern(WorkerJob job) => Path.ChangeExtension(job.ResultPath, ".slurm-%j.out");

    /// <summary>The output file of job <paramref name="jobId"/>.</summary>
    public static string OutputPath(WorkerJob job, string jobId) => OutputPattern(job).Replace("%j", jobId, StringComparison.Ordinal);

    /// <summary>The job's name in the queue: fairnad-&lt;run&gt;-&lt;candidate id, first 12&gt;, so squeue shows whose it is.</summary>
    public static string JobName(string run, string candidateId) => $"fairnad-{run}-{candidateId[..Math.Min(12, candidateId.Length)]}";

    /// <summary>The time limit in minutes: the executor's, else the worker timeout rounded up to whole minutes.</summary>
    public static int TimeMinutes(ExecutorOptions options, WorkerLimits limits) => options.TimeMinutes ?? Math.Max(1, (int)Math.Ceiling(limits.Timeout.TotalMinutes));

    /// <summary>The memory in MiB: the executor's, else the worker's memory safety cap.</summary>
    public static long MemoryMb(ExecutorOptions options, WorkerLimits limits) => options.MemoryMb ?? Math.Max(1, limits.MemoryBytes >> 20);

    /// <summary>The arguments of `sbatch` that submit <paramref name="job"/>'s script, --parsable first so it prints only the job id.</summary>
    public static IReadOnlyList<string> SbatchArguments(WorkerJob job, ExecutorOptions options, WorkerLimits limits, string run)
    {
        var arguments = new List<string>
        {
            "--parsable",
            $"--job-name={JobName(run, job.CandidateId)}",
            $"--output={OutputPattern(job)}",
            $"--chdir={Path.GetDirectoryName(job.ResultPath)}",
        };
        void Add(string option, string? value)
        {
            if (value is not null)
            {
                arguments.Add($"{option}={value}");
            }
        }

        Add("--partition", options.Partition);
        Add("--account", options.Account);
        Add("--qos", options.Qos);
        Add("--time", TimeMinutes(options, limits).ToString(CultureInfo.InvariantCulture));
        Add("--mem", MemoryMb(options, limits).ToString(CultureInfo.InvariantCulture) + "M");
        Add("--cpus-per-task", (options.CpusPerTask ?? job.Config.Threads).ToString(CultureInfo.InvariantCulture));
        Add("--gpus", options.Gpus);
        arguments.AddRange(options.SbatchOptions ?? []);
        arguments.Add(ScriptPath(job));
        return arguments;
    }

    /// <summary>The script: the worker's command line, with the job's extra environment; markers of a local worker are cleared.</summary>
    public static string Write(WorkerJob job, IReadOnlyList<string> sbatchArguments)
    {
        var script = new StringBuilder();
        script.Append("#!/bin/sh\n");
        script.Append(CultureInfo.InvariantCulture, $"# FairNad candidate {job.CandidateId} ({job.Dataset}): the `fairnad evaluate` command a fresh local worker runs.\n");
        script.Append(CultureInfo.InvariantCulture, $"# Its result document: {job.ResultPath}\n");
        script.Append(CultureInfo.InvariantCulture, $"# Submitted with: sbatch {string.Join(" ", sbatchArguments.Select(SlurmCommands.Quote))}\n");

        // A job is no child of the runner: it must not bind itself to a parent process (it would exit at once) nor count as a
        // local worker of the run (a resumed runner ends those; it re-attaches to jobs instead).
        script.Append(CultureInfo.InvariantCulture, $"unset {WorkerLifetime.ParentVariable} {WorkerLifetime.RunVariable}\n");
        foreach (var (name, value) in (job.Environment ?? new Dictionary<string, string>()).OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            script.Append(CultureInfo.InvariantCulture, $"export {name}={SlurmCommands.Quote(value)}\n");
        }

        script.Append("exec ").Append(string.Join(" ", new[] { job.FileName }.Concat(job.Arguments).Select(SlurmCommands.Quote))).Append('\n');
        return script.ToString();
    }
}
