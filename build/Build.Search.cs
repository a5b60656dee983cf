using System.Globalization;
using System.Reflection;
using FairNad.Build.Engine;

internal sealed partial class Build
{
    [Parameter("Dataset whose shipped experiment (experiments/<dataset>.json) Search runs; without it and --experiment, the quickstart.")]
    readonly string? Dataset;

    [Parameter("Experiment file Search runs (overrides --dataset).")]
    readonly AbsolutePath? Experiment;

    [Parameter("Fidelity preset of the experiment file to run (an entry of its \"profiles\"), e.g. ci: the same search at smoke fidelity on the CPU, as run <name>-<profile>-<strategy>-s<seed>. (--profile is the build's own option for .nuke/parameters.<name>.json; --profile ci sets this to ci.)")]
    [SearchOption("--profile")]
    readonly string? ExperimentProfile;

    [Parameter("Run only this seed instead of the experiment's seeds.")]
    [SearchOption]
    readonly int? Seed;

    [Parameter("Candidate budget of the search (evaluated candidates; duplicates are not counted).")]
    [SearchOption]
    readonly int? Candidates;

    [Parameter("Wall-clock budget of the search in minutes (it stops between batches; the run then depends on machine speed).")]
    [SearchOption]
    readonly double? Minutes;

    [Parameter("Search strategy: fairnad, fairnad-no-fair-idea, fairnad-no-pareto, fairnad-no-llm, fairnad-no-feedback, random or rea.")]
    [SearchOption]
    readonly string? Strategy;

    [Parameter("Candidates trained at once, each in its own worker process.")]
    [SearchOption]
    readonly int? Jobs;

    [Parameter("Seconds of CPU time (per libtorch thread) one candidate's training may use before its worker is stopped and the run stops, resumable (default: the experiment's evaluation.timeoutSeconds); it never changes a result, so it may be given on --resume.")]
    [SearchOption]
    readonly double? Timeout;

    [Parameter("Recorded run to continue after a crash or kill (results/<run>); gives the same result as an uninterrupted run.")]
    [SearchOption]
    readonly string? Resume;

    [Parameter("Where candidates train: local (worker processes on this machine) or slurm (a Slurm job per candidate, via sbatch); default the experiment's executor.kind, else local.")]
    [SearchOption]
    readonly string? Executor;

    [Parameter("Slurm partition the jobs go to (sbatch --partition); default the experiment's executor.partition, else the cluster's default.")]
    [SearchOption]
    readonly string? SlurmPartition;

    [Parameter("Slurm account the jobs are charged to (sbatch --account); default the experiment's executor.account.")]
    [SearchOption]
    readonly string? SlurmAccount;

    [Parameter("Slurm quality of service of the jobs (sbatch --qos); default the experiment's executor.qos.")]
    [SearchOption]
    readonly string? SlurmQos;

    [Parameter("GPUs per Slurm job (sbatch --gpus), e.g. 1 or a100:1; default the experiment's executor.gpus, else none.")]
    [SearchOption]
    readonly string? SlurmGpus;

    [Parameter("Slurm jobs queued or running at once; default the experiment's executor.maxJobsInFlight, else evaluation.jobs.")]
    [SearchOption]
    readonly int? SlurmMaxJobs;

    [Parameter("Shared directory (seen by every node) for the Slurm jobs' scripts, inputs and results, a folder per run; default the run folder's workers/.")]
    [SearchOption("--slurm-job-dir")]
    readonly AbsolutePath? SlurmJobDirectory;

    [Parameter("Device candidates train on: cpu, cuda or cuda:<index> (a GPU needs the Cuda libtorch backend, built with --torch-backend Cuda); default the experiment's.")]
    [SearchOption]
    readonly string? Device;

    [Parameter("Where datasets live (default: FAIRNAD_DATA, else ~/.cache/fairnad/datasets).")]
    [SearchOption("--data-dir")]
    readonly AbsolutePath? DataDirectory;

    [Parameter("Download the dataset (checksummed) when the data directory lacks it, before anything else; cifar10 and cifar100 only (imagenet16-120 needs a manual request).")]
    [SearchOption("--download-data")]
    readonly bool? DownloadData;

    [Parameter("Attribute-tree file the search uses, e.g. the one ./build.sh Extract writes to knowledge/extracted/<model>/attribute-tree.json (default: the curated knowledge/attribute-tree.json; a resume takes the run's recorded tree); the manifest records its path and SHA-256.")]
    [SearchOption]
    readonly AbsolutePath? Tree;

    Target Search => _ => _
        .Description("Runs a search experiment (default: the 6-minute quickstart on the embedded Fashion-MNIST subset): candidates as branches fairnad/<run>/<id>, metrics as notes, results/<run>/.")
        .DependsOn(Restore)
        .Executes(() => Fairnad(["search", "--results", RootDirectory / "results", "--repo", RootDirectory, .. SearchArguments()]));

    Target Report => _ => _
        .Description("Writes the report of a recorded run (--run) into results/<run>/report: CSV, Markdown, LaTeX and PNG plots, all from the run's recorded data.")
        .DependsOn(Restore)
        .Requires(() => Run)
        .Executes(() => Fairnad("report", "--run", Run!, "--results", RootDirectory / "results"));

    Target Reproduce => _ => _
        .Description("Re-executes a recorded run (--run) from its manifest and experiment copy, LLM replayed, and compares candidates, commits and metrics; fails on a difference. It trains where the run trained, or as --executor says.")
        .DependsOn(Restore)
        .Requires(() => Run)
        .Executes(() => Fairnad(["reproduce", "--run", Run!, "--results", RootDirectory / "results", .. Executor is null ? Array.Empty<string>() : ["--executor", Executor]]));

    /// <summary>
    /// `fairnad search` options: --experiment (from Experiment or Dataset), then every parameter marked [SearchOption] that
    /// has a value, as the option of its own name; so a parameter and its option are declared once, together.
    /// </summary>
    IEnumerable<string> SearchArguments()
    {
        AbsolutePath? experiment = Experiment
            ?? (Dataset is not null ? RootDirectory / "experiments" / $"{Dataset}.json" : Resume is null ? RootDirectory / "experiments" / "quickstart.json" : null);
        var forwarded = SearchParameters().Select(p => (p.Flag, Value: Text(p.Field.GetValue(this))));
        return new[] { ("--experiment", experiment is null ? null : (string)experiment) }.Concat(forwarded)
            .Where(o => o.Item2 is not null).SelectMany(o => new[] { o.Item1, o.Item2! });

        static string? Text(object? value) => value switch
        {
            null => null,
            IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
            AbsolutePath path => (string)path,
            var other => other.ToString(),
        };
    }

    /// <summary>
    /// The parameters marked [SearchOption], each with the `fairnad search` option it is forwarded as, ordered by that
    /// option. A test in FairNad.Cli.Tests holds each to the CLI's option of that flag, description included.
    /// </summary>
    internal static IEnumerable<(FieldInfo Field, string Flag)> SearchParameters() =>
        typeof(Build).GetFields(BindingFlags.Instance | BindingFlags.NonPublic)
            .Select(f => (Field: f, Option: f.GetCustomAttribute<SearchOptionAttribute>()))
            .Where(x => x.Option is not null)
            .Select(x => (x.Field, Flag: x.Option!.Flag ?? "--" + KebabCase(x.Field.Name)))
            .OrderBy(x => x.Flag, StringComparer.Ordinal);

    static string KebabCase(string name) => string.Concat(name.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : string.Empty) + char.ToLowerInvariant(c) : c.ToString()));
}

/// <summary>A build parameter the Search target forwards to `fairnad search`: as --&lt;its name in kebab case&gt;, or as <see cref="Flag"/>.</summary>
[AttributeUsage(AttributeTargets.Field)]
internal sealed class SearchOptionAttribute(string? flag = null) : Attribute
{
    public string? Flag { get; } = flag;
}
