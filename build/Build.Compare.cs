using System.Globalization;
using System.Text.Json;
using FairNad.Build.Engine;

internal sealed partial class Build
{
    [Parameter("Strategies the Compare target runs, each with every seed of the experiment (or --seed).")]
    readonly string[] CompareStrategies = ["fairnad", "rea", "random"];

    /// <summary>
    /// The open-space comparison: every strategy with every seed of the experiment (default experiments/fashion-mnist-compare.json),
    /// each run started, or resumed when its folder already holds it (so the target continues across sessions: the run's lineage
    /// is exported to results/&lt;run&gt;/lineage.bundle after every step and imported from there into a clone that lacks it), then the
    /// comparison report of all of them. Run names are the search's own (&lt;name&gt;[-&lt;profile&gt;]-&lt;strategy&gt;-s&lt;seed&gt;).
    /// </summary>
    Target Compare => _ => _
        .Description("Runs (or resumes) every strategy of --compare-strategies (default fairnad, rea, random) with every seed of the experiment (default experiments/fashion-mnist-compare.json; --profile ci for a smoke run), then writes the comparison report into results/<name>[-<profile>]-comparison.")
        .DependsOn(Restore)
        .Executes(() =>
        {
            var experiment = Experiment ?? RootDirectory / "experiments" / "fashion-mnist-compare.json";
            using var document = JsonDocument.Parse(File.ReadAllText(experiment), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            var root = document.RootElement;
            var name = root.GetProperty("name").GetString()!;
            var seedsOf = ExperimentProfile is { } profile && root.TryGetProperty("profiles", out var profiles) && profiles.TryGetProperty(profile, out var preset) && preset.TryGetProperty("seeds", out var presetSeeds)
                ? presetSeeds
                : root.GetProperty("seeds");
            int[] seeds = Seed is { } one ? [one] : [.. seedsOf.EnumerateArray().Select(s => s.GetInt32())];
            var results = RootDirectory / "results";
            var prefix = ExperimentProfile is null ? name : $"{name}-{ExperimentProfile}";
            var runs = new List<string>();
            // --jobs is part of a run's record: it applies when a run starts, and a resumed run keeps the jobs it was
            // recorded with (the search refuses a resume that names them, as it refuses any change to a recorded run).
            string[] DataOption() => DataDirectory is null ? [] : ["--data-dir", (string)DataDirectory];
            string[] JobsOption() => Jobs is null ? [] : ["--jobs", Jobs.Value.ToString(CultureInfo.InvariantCulture)];
            // --timeout is an execution setting (a candidate over it stops the run, never recorded): passed to every run, resumed or not.
            string[] TimeoutOption() => Timeout is null ? [] : ["--timeout", Timeout.Value.ToString(CultureInfo.InvariantCulture)];
            foreach (var strategy in CompareStrategies)
            {
                foreach (var seed in seeds)
                {
                    var run = string.Create(CultureInfo.InvariantCulture, $"{prefix}-{strategy}-s{seed}");
                    runs.Add(run);
                    // The lineage travels with the run folder as results/<run>/lineage.bundle, so a run committed unfinished
                    // resumes in a fresh clone (another session, another machine); a run the repository holds is left alone.
                    var bundle = results / run / "lineage.bundle";
                    try
                    {
                        if (File.Exists(results / run / "manifest.json"))
                        {
                            if (File.Exists(bundle))
                            {
                                Fairnad("lineage", "import", "--repo", RootDirectory, "--run", run, "--from", bundle, "--if-missing");
                            }

                            Fairnad(["search", "--results", results, "--repo", RootDirectory, "--resume", run, .. DataOption(), .. TimeoutOption()]);
                        }
                        else
                        {
                            Fairnad(["search", "--results", results, "--repo", RootDirectory, "--experiment", experiment, "--strategy", strategy, "--seed", seed.ToString(CultureInfo.InvariantCulture),
                                .. ExperimentProfile is null ? [] : new[] { "--profile", ExperimentProfile }, .. DataOption(), .. JobsOption(), .. TimeoutOption()]);
                        }
                    }
                    finally
                    {
                        // Also when the search stops early (Ctrl+C, a budget, an error): what it recorded is then in the bundle.
                        if (File.Exists(results / run / "manifest.json"))
                        {
                            Fairnad("lineage", "export", "--repo", RootDirectory, "--run", run, "--to", bundle);
                        }
                    }
                }
            }

            Fairnad(["report", "--runs", .. runs, "--results", results, "--out", results / $"{prefix}-comparison"]);
        });
}
