using System.Globalization;
using FairNad.Build.Engine;

internal sealed partial class Build
{
    [Parameter("Dataset whose shipped experiment (experiments/<dataset>.json) Search runs; without it and --experiment, the quickstart.")]
    readonly string? Dataset;

    [Parameter("Experiment file Search runs (overrides --dataset).")]
    readonly AbsolutePath? Experiment;

    [Parameter("Run only this seed instead of the experiment's seeds.")]
    readonly int? Seed;

    [Parameter("Candidate budget of the search (evaluated candidates; duplicates are not counted).")]
    readonly int? Candidates;

    [Parameter("Wall-clock budget of the search in minutes (the run then depends on machine speed).")]
    readonly double? Minutes;

    [Parameter("Search strategy: fairnad, fairnad-no-fair-idea, fairnad-no-pareto, fairnad-no-llm, fairnad-no-feedback, random or rea.")]
    readonly string? Strategy;

    [Parameter("Candidates trained at once, each in its own worker process.")]
    readonly int? Jobs;

    [Parameter("Recorded run to continue after a crash or kill (results/<run>); gives the same result as an uninterrupted run.")]
    readonly string? Resume;

    [Parameter("Device candidates train on: cpu, cuda or cuda:<index> (a GPU needs --torch-backend Cuda); default the experiment's.")]
    readonly string? Device;

    [Parameter("Where datasets live (default: FAIRNAD_DATA, else ~/.cache/fairnad/datasets).")]
    readonly AbsolutePath? DataDirectory;

    Target Search => _ => _
        .Description("Runs a search experiment (default: the 5-minute quickstart on the embedded Fashion-MNIST subset): candidates as branches fairnad/<run>/<id>, metrics as notes, results/<run>/.")
        .DependsOn(Restore)
        .Executes(() => Fairnad(["search", "--results", RootDirectory / "results", "--repo", RootDirectory, .. SearchArguments()]));

    Target Report => _ => _
        .Description("Writes the report of a recorded run (--run) into results/<run>/report: CSV, Markdown, LaTeX and PNG plots, all from the run's recorded data.")
        .DependsOn(Restore)
        .Requires(() => Run)
        .Executes(() => Fairnad("report", "--run", Run!, "--results", RootDirectory / "results"));

    Target Reproduce => _ => _
        .Description("Re-executes a recorded run (--run) from its manifest and experiment copy, LLM replayed, and compares candidates, commits and metrics; fails on a difference.")
        .DependsOn(Restore)
        .Requires(() => Run)
        .Executes(() => Fairnad("reproduce", "--run", Run!, "--results", RootDirectory / "results"));

    IEnumerable<string> SearchArguments()
    {
        string Text(double value) => value.ToString(CultureInfo.InvariantCulture);
        AbsolutePath? experiment = Experiment
            ?? (Dataset is not null ? RootDirectory / "experiments" / $"{Dataset}.json" : Resume is null ? RootDirectory / "experiments" / "quickstart.json" : null);
        var options = new (string Name, string? Value)[]
        {
            ("--experiment", experiment is null ? null : (string)experiment),
            ("--seed", Seed is { } seed ? Text(seed) : null),
            ("--candidates", Candidates is { } candidates ? Text(candidates) : null),
            ("--minutes", Minutes is { } minutes ? Text(minutes) : null),
            ("--strategy", Strategy),
            ("--llm", Llm),
            ("--ollama-host", OllamaHost),
            ("--jobs", Jobs is { } jobs ? Text(jobs) : null),
            ("--run", Run),
            ("--resume", Resume),
            ("--device", Device),
            ("--data-dir", DataDirectory is null ? null : (string)DataDirectory),
        };
        return options.Where(o => o.Value is not null).SelectMany(o => new[] { o.Name, o.Value! });
    }
}
