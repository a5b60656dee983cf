using FairNad.Build.Engine;

internal sealed partial class Build
{
    [Parameter("Candidate id (or a unique prefix of at least 6 characters) whose lineage to show.")]
    readonly string? Candidate;

    [Parameter("Name of the new run (default <experiment>-<strategy>-s<seed>). Lineage: the run the candidate belongs to (optional when the id is unique).")]
    [SearchOption]
    readonly string? Run;

    [Parameter("Git repository holding the lineage; default the repository of the build.")]
    readonly AbsolutePath? LineageRepository;

    [Parameter("Lineage output format: markdown or json.")]
    readonly string LineageFormat = "markdown";

    [Parameter("Show the spec diff of each lineage step.")]
    readonly bool Diff;

    [Parameter("How many candidates the lineage benchmark writes.")]
    readonly int LineageBenchCount = 1000;

    Target Lineage => _ => _
        .Description("Prints the chain from the seed architecture to --candidate: mutation, attribute, metric change and transcript of every step.")
        .DependsOn(Restore)
        .Requires(() => Candidate)
        .Executes(() => Fairnad(["lineage", Candidate!, "--repo", LineageRepository ?? RootDirectory, "--format", LineageFormat,
            .. Run is null ? Array.Empty<string>() : ["--run", Run], .. Diff ? ["--diff"] : Array.Empty<string>()]));

    Target BenchmarkLineage => _ => _
        .Description("Times writing candidates (spec + generated code + note) as branches of a fresh repository, and how that grows with the branch count.")
        .DependsOn(Restore)
        .Executes(() => Fairnad("bench", "lineage", "--count", LineageBenchCount.ToString(System.Globalization.CultureInfo.InvariantCulture)));
}
