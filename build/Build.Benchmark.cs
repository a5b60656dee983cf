using FairNad.Build.Engine;
using FairNad.Build.Engine.Tooling;

internal sealed partial class Build
{
    [Parameter("NAS-Bench-201 table whose cell strings the model benchmark builds and runs (default ../shared/data/nb201/nb201_cifar10-valid.csv).")]
    readonly AbsolutePath? Nb201Table;

    [Parameter("Benchmark only this many evenly spaced cells (0 = all 15,625).")]
    readonly int BenchLimit;

    [Parameter("Time the generated-code path (codegen, Roslyn compile, load, forward) on this many evenly spaced cells.")]
    readonly int CompileSample = 50;

    [Parameter("NAS-Bench-201 tables folder for the proxy benchmark (default ../shared/data/nb201).")]
    readonly AbsolutePath? Nb201Directory;

    [Parameter("Cells per table the proxy benchmark samples (0 = all 15,625, as the published figures are).")]
    readonly int ProxySample = 1000;

    [Parameter("CSV the proxy benchmark appends each cell's score to, and reads already scored cells back from (resumes an interrupted run).")]
    readonly AbsolutePath? ProxyScores;

    [Parameter("Search space of the Benchmark target: nb201 (strategies on the shipped NAS-Bench-201 tables).")]
    readonly string Space = "nb201";

    [Parameter("Seeds per strategy in the strategy benchmark.")]
    readonly int BenchSeeds = 100;

    [Parameter("CSV tables of the NAS-Bench-201 cell space for the Benchmark target instead of the shipped ones (fairnad bench nb201 --table); writes results/nb201-tables/.")]
    readonly AbsolutePath[]? BenchTable;

    [Parameter("With --bench-table: the column the strategies see (default 'validation accuracy').")]
    readonly string? QueryColumn;

    [Parameter("With --bench-table: the column reported for the best cell by the query column (default 'test accuracy').")]
    readonly string? ReportColumn;

    Target Benchmark => _ => _
        .Description("Strategy benchmark (--space nb201): random, REA, local search, FairNAD and its ablations on the NAS-Bench-201 tables, 100 seeds, FairNAD against each with Holm's correction; writes results/nb201/ (with --bench-table, those CSVs into results/nb201-tables/).")
        .DependsOn(Restore)
        .Executes(() => Fairnad(["bench", Space == "nb201" ? "nb201" : throw new InvalidOperationException($"--space {Space}: only nb201 has a strategy benchmark"), "--seeds", BenchSeeds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            .. BenchTable is { Length: > 0 } tables
                ? ["--table", .. tables.Select(t => (string)t), "--query-column", QueryColumn ?? "validation accuracy", "--report-column", ReportColumn ?? "test accuracy", "--out", RootDirectory / "results" / "nb201-tables"]
                : new string[] { "--out", RootDirectory / "results" / "nb201" }]));

    Target BenchmarkProxies => _ => _
        .Description("Spearman rho of the synflow zero-cost proxy against NAS-Bench-201 test accuracy on a seeded sample of cells (--proxy-sample 0: all cells), per dataset, next to the published figures.")
        .DependsOn(Restore)
        .Executes(() => Fairnad(["bench", "proxies", "--nb201-dir", Nb201Directory ?? RootDirectory.Parent / "shared" / "data" / "nb201",
            .. ProxySample == 0 ? new[] { "--all" } : ["--sample", ProxySample.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            .. ProxyScores is null ? Array.Empty<string>() : ["--scores", (string)ProxyScores]]));

    Target BenchmarkOverhead => _ => _
        .Description("Fixed cost per candidate and harness overhead against the bare training loop of the same model and data, for fresh (cold) and warm worker processes side by side, at the quick fidelity; with --executor slurm, a Slurm job's cost per candidate against a cold local worker.")
        .DependsOn(Restore)
        .Executes(() => Fairnad(["bench", "overhead",
            .. Executor is null ? Array.Empty<string>() : ["--executor", Executor],
            .. SlurmPartition is null ? Array.Empty<string>() : ["--slurm-partition", SlurmPartition],
            .. SlurmJobDirectory is null ? Array.Empty<string>() : ["--slurm-job-dir", (string)SlurmJobDirectory]]));

    Target BenchmarkLadder => _ => _
        .Description("Accuracy per CPU-minute with and without a fidelity ladder on the embedded Fashion-MNIST subset: the quickstart's search with every candidate at the top rung, with the ladder, and with the ladder at equal CPU time, side by side in one process.")
        .DependsOn(Restore)
        .Executes(() => Fairnad("bench", "ladder", "--profile", "ci", "--candidates", "12", "--rungs", "1:2000", "2:4000"));

    [Parameter("Replica processes of the determinism benchmark.")]
    readonly int Replicas = 3;

    [Parameter("Busy CPU threads the determinism benchmark keeps running as other load on the machine (0 = none).")]
    readonly int Load;

    Target BenchmarkDeterminism => _ => _
        .Description("Trains every operator, reference architecture and NB201 cell for a few steps in several worker processes (orders and native heaps differ) and compares loss curves, accuracies and weights bit for bit; fails on any difference.")
        .DependsOn(Restore)
        .Executes(() => Fairnad("bench", "determinism", "--replicas", Replicas.ToString(System.Globalization.CultureInfo.InvariantCulture), "--load", Load.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    Target BenchmarkMemory => _ => _
        .Description("Trains calibration candidates in worker processes and compares each worker's measured peak memory with the prediction memory budgets are decided on; fails if a live peak exceeds its prediction.")
        .DependsOn(Restore)
        .Executes(() => Fairnad("bench", "memory"));

    Target BenchmarkOperators => _ => _
        .Description("LLM-written operators over a scripted set of answers (the scripted designer's operators and faulty variants): compile and sandbox-analysis time per operator, verification-worker time, and the share of mutations valid after 0..k repairs.")
        .DependsOn(Restore)
        .Executes(() => Fairnad("bench", "operators"));

    AbsolutePath CliProject => RootDirectory / "src" / "FairNad.Cli" / "FairNad.Cli.csproj";

    Target BenchmarkModels => _ => _
        .Description("Times parse + analysis + build + one forward pass over every NAS-Bench-201 cell, and the generated-code compile per candidate.")
        .DependsOn(Restore)
        .Executes(() => Fairnad("bench", "models", Nb201Table ?? RootDirectory.Parent / "shared" / "data" / "nb201" / "nb201_cifar10-valid.csv", "--limit", BenchLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--compile", CompileSample.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>Runs the `fairnad` command line, built in Release because benchmarks and searches measure it.</summary>
    void Fairnad(params string[] arguments) =>
        ProcessTasks.Run("dotnet", ["run", "--project", CliProject, "-c", "Release", .. MsBuildProperties.Select(p => $"-p:{p.Key}={p.Value}"), "--", .. arguments]);
}
