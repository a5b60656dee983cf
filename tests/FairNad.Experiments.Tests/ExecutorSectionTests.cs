namespace FairNad.Experiments.Tests;

/// <summary>The experiment file's executor section and the options that override it: read strictly, left out of the lineage, absent by default.</summary>
public sealed class ExecutorSectionTests
{
    private static string Quickstart => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "experiments", "quickstart.json"));

    private static string WithExecutor(string section) =>
        Quickstart.Replace("\"evaluation\": {", $"\"executor\": {section},\n  \"evaluation\": {{", StringComparison.Ordinal);

    [Fact]
    public void Read_SlurmSection_EveryFieldReadAndRoundTrips()
    {
        var experiment = ExperimentFile.Read(WithExecutor("""
            { "kind": "slurm", "partition": "gpu", "account": "nas", "qos": "long", "timeMinutes": 90, "memoryMb": 12000, "cpusPerTask": 4, "gpus": "a100:1",
              "sbatchOptions": ["--constraint=avx2"], "maxJobsInFlight": 16, "jobDirectory": "/shared/fairnad", "pollSeconds": 5 }
            """), "q.json");

        Assert.Equal(
            new ExecutorOptions("slurm", "gpu", "nas", "long", 90, 12000, 4, "a100:1", experiment.Executor!.SbatchOptions, 16, "/shared/fairnad", 5),
            experiment.Executor);
        Assert.Equal(["--constraint=avx2"], experiment.Executor.SbatchOptions!);
        Assert.Equal(experiment.ToJson(), ExperimentFile.Read(experiment.ToJson(), "round trip").ToJson());
    }

    [Fact]
    public void ToJson_NoSection_NoExecutorInTheTextSoHashesStayAsTheyWere()
    {
        var plain = ExperimentFile.Read(Quickstart, "q.json");

        Assert.Null(plain.Executor);
        Assert.DoesNotContain("executor", plain.ToJson(), StringComparison.Ordinal);
        Assert.Equal(plain.Hash(), (plain with { Executor = null }).Hash());
    }

    [Fact]
    public void LineageJson_SlurmOrLocal_SameAsWithoutTheSection()
    {
        var plain = ExperimentFile.Read(Quickstart, "q.json");
        var slurm = ExperimentFile.Read(WithExecutor("""{ "kind": "slurm", "partition": "debug" }"""), "q.json");
        var local = ExperimentFile.Read(WithExecutor("""{ "kind": "local" }"""), "q.json");

        Assert.Equal(plain.LineageJson(0), slurm.LineageJson(0));
        Assert.Equal(plain.LineageJson(0), local.LineageJson(0));
        Assert.NotEqual(plain.Hash(), slurm.Hash());
    }

    [Theory]
    [InlineData("""{ "kind": "pbs" }""", "q.json: executor.kind: 'pbs' is not one of local, slurm")]
    [InlineData("""{ "kind": "slurm", "partiton": "debug" }""", "q.json: executor.partiton: unknown field (expected one of kind, partition, account, qos, timeMinutes, memoryMb, cpusPerTask, gpus, sbatchOptions, maxJobsInFlight, jobDirectory, pollSeconds)")]
    [InlineData("""{ "kind": "local", "partition": "debug" }""", "q.json: executor.partition: only for kind slurm (kind is local)")]
    [InlineData("""{ "partition": "debug" }""", "q.json: executor.kind: missing")]
    [InlineData("""{ "kind": "slurm", "timeMinutes": 0 }""", "q.json: executor.timeMinutes: must be at least 1")]
    [InlineData("""{ "kind": "slurm", "partition": "my debug" }""", "q.json: executor.partition: 'my debug' must be one word (no spaces)")]
    [InlineData("""{ "kind": "slurm", "sbatchOptions": ["--time=10"] }""", "q.json: executor.sbatchOptions[0]: --time is set by FairNad from its own field of the executor section")]
    [InlineData("""{ "kind": "slurm", "sbatchOptions": ["--output=x.log"] }""", "q.json: executor.sbatchOptions[0]: --output is set by FairNad")]
    [InlineData("""{ "kind": "slurm", "sbatchOptions": ["exclusive"] }""", "q.json: executor.sbatchOptions[0]: 'exclusive' is not an sbatch option (one argument, e.g. --constraint=avx2)")]
    [InlineData("""{ "kind": "slurm", "maxJobsInFlight": "8" }""", "q.json: executor.maxJobsInFlight: must be a whole number")]
    public void Read_BadSection_ErrorNamesFileAndField(string section, string expected)
    {
        var e = Assert.Throws<ExperimentException>(() => ExperimentFile.Read(WithExecutor(section), "q.json"));

        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void Apply_SlurmInProcess_Refused()
    {
        var experiment = new ExperimentOverrides(Executor: "slurm", Isolated: false, Jobs: 1).Apply(ExperimentFile.Read(Quickstart, "q.json"));

        var e = Assert.Throws<ExperimentException>(() => ExperimentFile.Validated(experiment, "q.json (with the options given)"));

        Assert.Contains("executor.kind: slurm runs each candidate as a job of its own", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_ExecutorSlurmAndPartition_SetOverTheFilesSectionKeepingTheRest()
    {
        var file = ExperimentFile.Read(WithExecutor("""{ "kind": "slurm", "partition": "debug", "qos": "long" }"""), "q.json");

        var applied = new ExperimentOverrides(SlurmPartition: "gpu", SlurmMaxJobs: 8).Apply(file);

        Assert.Equal(("slurm", "gpu", "long", 8), (applied.Executor!.Kind, applied.Executor.Partition, applied.Executor.Qos, applied.Executor.MaxJobsInFlight));
    }

    [Fact]
    public void Apply_ExecutorLocalOverASlurmFile_DropsTheSection()
    {
        var file = ExperimentFile.Read(WithExecutor("""{ "kind": "slurm", "partition": "debug" }"""), "q.json");

        var applied = new ExperimentOverrides(Executor: "local").Apply(file);

        Assert.Null(applied.Executor);
        Assert.Equal(ExperimentFile.Read(Quickstart, "q.json").Hash(), applied.Hash());
    }

    [Fact]
    public void Apply_SlurmPartitionWithoutSlurm_ValidationNamesIt()
    {
        var applied = new ExperimentOverrides(SlurmPartition: "gpu").Apply(ExperimentFile.Read(Quickstart, "q.json"));

        Assert.Equal("executor.partition: only for kind slurm (kind is local)", applied.Problem());
    }

    [Fact]
    public void Apply_SlurmJobDirectory_MadeAbsolute()
    {
        var applied = new ExperimentOverrides(Executor: "slurm", SlurmJobDirectory: "jobs").Apply(ExperimentFile.Read(Quickstart, "q.json"));

        Assert.Equal(Path.GetFullPath("jobs"), applied.Executor!.JobDirectory);
    }

    [Fact]
    public void ChangesToARecordedRun_ExecutorOptions_Named()
    {
        var given = new ExperimentOverrides(Executor: "slurm", SlurmPartition: "gpu", SlurmJobDirectory: "/x");

        Assert.Equal(["--executor", "--slurm-partition", "--slurm-job-dir"], given.ChangesToARecordedRun());
    }

    [Fact]
    public void ChangesToARecordedRun_Timeout_NotAChange()
    {
        var given = new ExperimentOverrides(Timeout: 9000, LlmTimeout: 60);

        Assert.Empty(given.ChangesToARecordedRun());
    }
}
