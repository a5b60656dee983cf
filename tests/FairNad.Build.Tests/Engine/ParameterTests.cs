using FairNad.Build.Engine;

namespace FairNad.Build.Tests.Engine;

public sealed class ParameterTests
{
    public enum Mode
    {
        Fast,
        FullFidelity,
    }

    private sealed class ParameterBuild : NukeBuild
    {
        [Parameter("Dataset name.")]
        public readonly string Dataset = "fashion-mnist";

        [Parameter("Epochs to train.")]
        public readonly int Epochs = 1;

        [Parameter("Learning rate.")]
        public readonly double LearningRate = 0.1;

        [Parameter("Verbose output.")]
        public readonly bool Verbose;

        [Parameter("Run mode.")]
        public readonly Mode RunMode = Mode.Fast;

        [Parameter("Seeds to run.")]
        public readonly int[] Seeds = [0];

        [Parameter("Where data lives.")]
        public readonly AbsolutePath? DataDirectory;

        [Parameter("Names.")]
        public readonly string[] Tags = [];

        [Parameter("Optional budget.")]
        public readonly int? Budget;

        [Parameter("Renamed.", Name = "Jobs")]
        public readonly int Workers = 1;

        public Target Compile => _ => _.Executes(() => { });
    }

    private static (ParameterBuild Build, int Exit, BuildRun Run) Execute(
        Dictionary<string, string>? files, Dictionary<string, string>? environment, params string[] args)
    {
        var run = new BuildRun(files);
        foreach (var (key, value) in environment ?? [])
        {
            run.Environment[key] = value;
        }

        var build = new ParameterBuild();
        var exit = run.Execute(build, args);
        return (build, exit, run);
    }

    [Fact]
    public void Resolve_NoSource_KeepsInitializer()
    {
        var (build, exit, run) = Execute(null, null, "--plan");
        using (run)
        {
            Assert.Equal(0, exit);
            Assert.Equal("fashion-mnist", build.Dataset);
            Assert.Equal(1, build.Epochs);
        }
    }

    [Fact]
    public void Resolve_AllSources_CommandLineBeatsEnvironmentBeatsFileBeatsDefault()
    {
        var files = new Dictionary<string, string>
        {
            ["parameters.json"] = """{ "$schema": "./build.schema.json", "Dataset": "from-file", "Epochs": 3, "LearningRate": 0.5, "Tags": ["a", "b"] }""",
        };
        var environment = new Dictionary<string, string> { ["DATASET"] = "from-env", ["EPOCHS"] = "7" };

        var (build, exit, run) = Execute(files, environment, "--plan", "--dataset", "cifar100");
        using (run)
        {
            Assert.Equal(0, exit);
            Assert.Equal("cifar100", build.Dataset);
            Assert.Equal(7, build.Epochs);
            Assert.Equal(0.5, build.LearningRate);
            Assert.Equal(["a", "b"], build.Tags);
            Assert.False(build.Verbose);
        }
    }

    [Fact]
    public void Resolve_Profile_OverridesBaseFile()
    {
        var files = new Dictionary<string, string>
        {
            ["parameters.json"] = """{ "Dataset": "base", "Epochs": 3 }""",
            ["parameters.paper.json"] = """{ "Dataset": "cifar100" }""",
        };

        var (build, exit, run) = Execute(files, null, "--plan", "--profile", "paper");
        using (run)
        {
            Assert.Equal(0, exit);
            Assert.Equal("cifar100", build.Dataset);
            Assert.Equal(3, build.Epochs);
        }
    }

    [Fact]
    public void Resolve_MissingProfile_FailsNamingTheFile()
    {
        var (_, exit, run) = Execute(null, null, "--plan", "--profile", "nope");
        using (run)
        {
            Assert.Equal(2, exit);
            Assert.Contains("profile 'nope' has no file", run.Error.ToString());
            Assert.Contains("parameters.nope.json", run.Error.ToString());
        }
    }

    [Theory]
    [InlineData("--learning-rate")]
    [InlineData("--LearningRate")]
    [InlineData("--learningrate")]
    [InlineData("--learning_rate")]
    public void Resolve_NameSpelling_IgnoresCaseAndDashes(string option)
    {
        var (build, exit, run) = Execute(null, null, "--plan", option, "0.025");
        using (run)
        {
            Assert.Equal(0, exit);
            Assert.Equal(0.025, build.LearningRate);
        }
    }

    [Fact]
    public void Resolve_TypedValues_ParsesEachType()
    {
        var (build, exit, run) = Execute(
            null, null, "--plan", "--verbose", "--run-mode", "full-fidelity", "--seeds", "1", "2", "3", "--data-directory", "data/x",
            "--budget", "25", "--jobs", "4");
        using (run)
        {
            Assert.Equal(0, exit);
            Assert.True(build.Verbose);
            Assert.Equal(Mode.FullFidelity, build.RunMode);
            Assert.Equal([1, 2, 3], build.Seeds);
            Assert.Equal(run.Root / "data" / "x", build.DataDirectory);
            Assert.Equal(25, build.Budget);
            Assert.Equal(4, build.Workers);
        }
    }

    [Fact]
    public void Resolve_EnvironmentArray_SplitsOnWhitespace()
    {
        var (build, _, run) = Execute(null, new Dictionary<string, string> { ["SEEDS"] = "4 5" }, "--plan");
        using (run)
        {
            Assert.Equal([4, 5], build.Seeds);
        }
    }

    [Theory]
    [InlineData("--epochs", "abc", "parameter 'Epochs' (--epochs) from the command line: 'abc' is not a valid integer")]
    [InlineData("--learning-rate", "fast", "'fast' is not a valid number")]
    [InlineData("--verbose", "maybe", "")]
    [InlineData("--run-mode", "slow", "'slow' is not a valid Mode (valid: Fast, FullFidelity)")]
    public void Resolve_UnparsableValue_FailsNamingTheParameter(string option, string value, string message)
    {
        var (_, exit, run) = Execute(null, null, option, value);
        using (run)
        {
            Assert.NotEqual(0, exit);
            Assert.Contains(message, run.Error.ToString());
        }
    }

    [Fact]
    public void Resolve_NonBooleanWithoutValue_Fails()
    {
        var (_, exit, run) = Execute(null, null, "--epochs");
        using (run)
        {
            Assert.Equal(2, exit);
            Assert.Contains("parameter 'Epochs' (--epochs) from the command line: needs a value of type integer", run.Error.ToString());
        }
    }

    [Fact]
    public void Resolve_BadEnvironmentValue_FailsNamingTheVariable()
    {
        var (_, exit, run) = Execute(null, new Dictionary<string, string> { ["Epochs"] = "many" }, "--plan");
        using (run)
        {
            Assert.Equal(2, exit);
            Assert.Contains("from environment variable Epochs: 'many' is not a valid integer", run.Error.ToString());
        }
    }

    [Fact]
    public void Resolve_UnknownParameter_FailsListingValidOnes()
    {
        var (_, exit, run) = Execute(null, null, "--datset", "cifar10");
        using (run)
        {
            Assert.Equal(2, exit);
            Assert.Contains("unknown parameter '--datset'. Valid parameters: --dataset, --epochs, --learning-rate", run.Error.ToString());
        }
    }

    [Fact]
    public void Resolve_UnknownKeyInParametersFile_FailsNamingFileAndKey()
    {
        var files = new Dictionary<string, string> { ["parameters.json"] = """{ "Datasett": "x" }""" };
        var (_, exit, run) = Execute(files, null, "--plan");
        using (run)
        {
            Assert.Equal(2, exit);
            Assert.Contains("parameters.json: unknown parameter 'Datasett'", run.Error.ToString());
        }
    }

    [Fact]
    public void Resolve_MalformedParametersFile_FailsNamingTheFile()
    {
        var files = new Dictionary<string, string> { ["parameters.json"] = "{ \"Dataset\": " };
        var (_, exit, run) = Execute(files, null, "--plan");
        using (run)
        {
            Assert.Equal(2, exit);
            Assert.Contains("parameters.json: not valid JSON", run.Error.ToString());
        }
    }

    [Fact]
    public void Help_ShowsCurrentValueAndItsSource()
    {
        var (_, _, run) = Execute(null, new Dictionary<string, string> { ["EPOCHS"] = "9" }, "--help");
        using (run)
        {
            var output = run.Output.ToString();
            Assert.Contains("Epochs to train. Current: 9 (environment variable EPOCHS).", output);
            Assert.Contains("Learning rate. Current: 0.1 (default).", output);
            Assert.Contains("Seeds to run. Current: 0 (default).", output);
        }
    }
}
