using FairNad.Architecture;
using FairNad.Evaluation.Isolation;
using FairNad.Evaluation.Training;
using FairNad.Experiments.Slurm;

namespace FairNad.Experiments.Tests;

/// <summary>
/// The Slurm executor's parts that need no cluster: Slurm states to failure categories, what sbatch is given, the job log,
/// the executor section of experiment files and options, and preflight against stand-in commands (shell scripts that
/// print what Slurm prints).
/// </summary>
public sealed class SlurmExecutorTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-slurm-unit-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static readonly WorkerLimits Limits = new(TimeSpan.FromSeconds(300), 2048L << 20);

    [Theory]
    [InlineData("TIMEOUT", 0, 15, FailureCategories.Timeout)]
    [InlineData("OUT_OF_MEMORY", 0, 9, FailureCategories.OutOfMemory)]
    [InlineData("NODE_FAIL", 0, 0, FailureCategories.Killed)]
    [InlineData("PREEMPTED", 0, 15, FailureCategories.Killed)]
    [InlineData("BOOT_FAIL", 0, 0, FailureCategories.Killed)]
    [InlineData("CANCELLED", 0, 15, FailureCategories.Killed)]
    [InlineData("DEADLINE", 0, 0, FailureCategories.Killed)]
    [InlineData("FAILED", 0, 11, FailureCategories.Crash)]
    [InlineData("FAILED", 0, 6, FailureCategories.Crash)]
    [InlineData("FAILED", 0, 9, FailureCategories.Killed)]
    [InlineData("FAILED", 137, 0, FailureCategories.Killed)]
    [InlineData("FAILED", 134, 0, FailureCategories.Crash)]
    [InlineData("FAILED", 1, 0, FailureCategories.Crash)]
    [InlineData("FAILED", 127, 0, FailureCategories.WorkerFailure)]
    [InlineData("FAILED", 126, 0, FailureCategories.WorkerFailure)]
    [InlineData("COMPLETED", 0, 0, FailureCategories.Crash)]
    [InlineData(SlurmJobStatus.Unknown, 0, 0, FailureCategories.Killed)]
    [InlineData(SlurmJobStatus.Unreachable, 0, 0, FailureCategories.WorkerFailure)]
    public void Failure_JobEndedWithoutAResult_CategoryAsForALocalWorker(string state, int exitCode, int signal, string expected)
    {
        var (category, message) = SlurmJobStates.Failure(new SlurmJobStatus("42", state, exitCode, signal), cancelledHere: false, "last words");

        Assert.Equal(expected, category);
        Assert.Contains("42", message, StringComparison.Ordinal);
        Assert.Contains("last words", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("TIMEOUT")]
    [InlineData("OUT_OF_MEMORY")]
    [InlineData("NODE_FAIL")]
    [InlineData("PREEMPTED")]
    [InlineData("BOOT_FAIL")]
    [InlineData("CANCELLED")]
    public void Failure_EndedByTheCluster_InfrastructureSoRetriedAndNeverRecorded(string state)
    {
        var (category, _) = SlurmJobStates.Failure(new SlurmJobStatus("7", state), cancelledHere: false, string.Empty);

        Assert.True(FailureCategory.Of(category)!.IsInfrastructure, $"{state} -> {category}");
    }

    [Fact]
    public void Failure_CancelledByThisRunner_Cancelled()
    {
        var (category, message) = SlurmJobStates.Failure(new SlurmJobStatus("7", "CANCELLED", 0, 15), cancelledHere: true, string.Empty);

        Assert.Equal(FailureCategories.Cancelled, category);
        Assert.Contains("scancel", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Failure_TimeLimit_MessageNamesTheLimits()
    {
        var (_, message) = SlurmJobStates.Failure(new SlurmJobStatus("9", "TIMEOUT"), false, string.Empty, "--time=5 --mem=2048M");

        Assert.Contains("--time=5", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("PENDING", true)]
    [InlineData("RUNNING", true)]
    [InlineData("COMPLETING", true)]
    [InlineData("REQUEUED", true)]
    [InlineData("SUSPENDED", true)]
    [InlineData("COMPLETED", false)]
    [InlineData("CANCELLED by 0", false)]
    [InlineData("CANCELLED+", false)]
    [InlineData("FAILED", false)]
    public void IsActive_State_WaitsOnlyForJobsThatHaveNotEnded(string state, bool active) => Assert.Equal(active, SlurmJobStates.IsActive(state));

    [Fact]
    public void ParseScontrol_OneLinerOfAFailedJob_StateExitCodeSignalReason()
    {
        const string line = "JobId=4 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=1 Nice=0 Account=(null) QOS=(null) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) " +
            "Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=3:0 RunTime=00:00:00 TimeLimit=UNLIMITED";

        var status = SlurmJobStates.ParseScontrol(line);

        Assert.Equal(new SlurmJobStatus("4", "FAILED", 3, 0, "NonZeroExitCode"), status);
    }

    [Fact]
    public void ParseSqueue_StatesOfSeveralJobs_ByJobId()
    {
        var jobs = SlurmJobStates.ParseSqueue("2|CANCELLED|None\n3|FAILED|JobLaunchFailure\n4|RUNNING|None\n");

        Assert.Equal(("CANCELLED", "None"), jobs["2"]);
        Assert.Equal(("FAILED", "JobLaunchFailure"), jobs["3"]);
        Assert.Equal(("RUNNING", "None"), jobs["4"]);
    }

    [Theory]
    [InlineData("123\n", "123")]
    [InlineData("123;cluster\n", "123")]
    [InlineData("sbatch: error: Batch job submission failed\n", null)]
    [InlineData("", null)]
    public void ParseJobId_SbatchParsableOutput_JobIdOrNone(string output, string? expected) => Assert.Equal(expected, SlurmJobStates.ParseJobId(output));

    [Fact]
    public void SbatchArguments_AllSettings_EachAsItsSbatchOptionAndTheScriptLast()
    {
        var job = Job();
        var options = new ExecutorOptions("slurm", Partition: "gpu", Account: "nas", Qos: "long", TimeMinutes: 90, MemoryMb: 12000, CpusPerTask: 4, Gpus: "a100:1",
            SbatchOptions: ["--constraint=avx2", "--exclusive"]);

        var arguments = SlurmJobScript.SbatchArguments(job, options, Limits, "quickstart-fairnad-s0");

        Assert.Equal("--parsable", arguments[0]);
        Assert.Equal(SlurmJobScript.ScriptPath(job), arguments[^1]);
        Assert.Equal(
            ["--partition=gpu", "--account=nas", "--qos=long", "--time=90", "--mem=12000M", "--cpus-per-task=4", "--gpus=a100:1", "--constraint=avx2", "--exclusive"],
            arguments.Where(a => !a.StartsWith("--job-name", StringComparison.Ordinal) && !a.StartsWith("--output", StringComparison.Ordinal) && !a.StartsWith("--chdir", StringComparison.Ordinal)).Skip(1).SkipLast(1));
        Assert.Contains($"--job-name=fairnad-quickstart-fairnad-s0-{job.CandidateId[..12]}", arguments);
        Assert.Contains($"--output={Path.ChangeExtension(job.ResultPath, ".slurm-%j.out")}", arguments);
    }

    [Fact]
    public void SbatchArguments_NoSettings_TimeFromTheWorkerTimeoutMemoryFromTheCapCpusFromThreads()
    {
        var job = Job(threads: 3);

        var arguments = SlurmJobScript.SbatchArguments(job, new ExecutorOptions("slurm"), Limits with { Timeout = TimeSpan.FromSeconds(301) }, "run");

        Assert.Contains("--time=6", arguments);
        Assert.Contains("--mem=2048M", arguments);
        Assert.Contains("--cpus-per-task=3", arguments);
        Assert.DoesNotContain(arguments, a => a.StartsWith("--partition", StringComparison.Ordinal) || a.StartsWith("--gpus", StringComparison.Ordinal));
    }

    [Fact]
    public void Write_JobWithEnvironmentAndSpaces_ExecsTheWorkerCommandQuotedAndClearsLocalWorkerMarkers()
    {
        var job = Job() with { FileName = "/opt/dot net/dotnet", Environment = new Dictionary<string, string> { ["FAIRNAD_TEST_CRASH"] = "it's:1" } };

        var script = SlurmJobScript.Write(job, SlurmJobScript.SbatchArguments(job, new ExecutorOptions("slurm"), Limits, "run"));

        Assert.StartsWith("#!/bin/sh\n", script, StringComparison.Ordinal);
        Assert.Contains($"unset {WorkerLifetime.ParentVariable} {WorkerLifetime.RunVariable}\n", script, StringComparison.Ordinal);
        Assert.Contains("export FAIRNAD_TEST_CRASH='it'\\''s:1'\n", script, StringComparison.Ordinal);
        Assert.Contains("\nexec '/opt/dot net/dotnet' fairnad.dll evaluate ", script, StringComparison.Ordinal);
        Assert.Contains($" --out {job.ResultPath}\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_SubmittedEndedAndResubmitted_OnlyJobsWithoutAnEndTornLineSkipped()
    {
        var log = new SlurmJobLog(Path.Combine(_directory, "slurm-jobs.jsonl"));
        log.Submitted("a", "1", 1);
        log.Submitted("b", "2", 1);
        log.Ended("a", "1", "CANCELLED", FailureCategories.Killed);
        log.Submitted("a", "3", 2);
        log.Submitted("c", "4", 1);
        log.Ended("c", "4", "COMPLETED", "result");
        File.AppendAllText(log.Path, "{\"event\":\"ended\",\"candidate\":\"b\",\"jo");

        Assert.Equal(new Dictionary<string, string> { ["a"] = "3", ["b"] = "2" }, log.Open());
        Assert.Equal(2, log.Attempts("a"));
        Assert.Equal(["CANCELLED", "submitted", "submitted", "COMPLETED"], log.Jobs().Select(j => j.State));
    }

    [Fact]
    public async Task PreflightAsync_NoSbatch_NamesTheCommandAndWhatToInstall()
    {
        var e = await Assert.ThrowsAsync<ExperimentException>(() => SlurmExecutor.PreflightAsync(new ExecutorOptions("slurm"), null, new SlurmCommands(_directory)));

        Assert.Contains("sbatch was not found", e.Message, StringComparison.Ordinal);
        Assert.Contains("`sbatch --version` could not be started", e.Message, StringComparison.Ordinal);
        Assert.Contains("apt-get install slurm-client", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PreflightAsync_ControllerDown_NamesSinfoAndItsOutput()
    {
        var commands = StandIn(sinfo: "echo 'slurm_load_partitions: Unable to contact slurm controller (connect failure)' >&2; exit 1");

        var e = await Assert.ThrowsAsync<ExperimentException>(() => SlurmExecutor.PreflightAsync(new ExecutorOptions("slurm"), null, commands));

        Assert.Equal("executor.kind slurm: the Slurm cluster is unreachable: `sinfo --noheader '--format=%P|%a'` exited with code 1: slurm_load_partitions: Unable to contact slurm controller (connect failure)", e.Message);
    }

    [Fact]
    public async Task PreflightAsync_NoSuchPartition_ListsThePartitionsSinfoShows()
    {
        var commands = StandIn(sinfo: "printf 'debug*|up\\ngpu|up\\n'");

        var e = await Assert.ThrowsAsync<ExperimentException>(() => SlurmExecutor.PreflightAsync(new ExecutorOptions("slurm", Partition: "a100"), null, commands));

        Assert.Equal("executor.partition: the Slurm cluster has no partition 'a100': `sinfo --noheader '--format=%P|%a'` lists debug (default) up, gpu up", e.Message);
    }

    [Fact]
    public async Task PreflightAsync_PartitionDown_SaysJobsWouldWait()
    {
        var commands = StandIn(sinfo: "printf 'debug*|up\\ngpu|down\\n'");

        var e = await Assert.ThrowsAsync<ExperimentException>(() => SlurmExecutor.PreflightAsync(new ExecutorOptions("slurm", Partition: "gpu"), null, commands));

        Assert.Contains("partition 'gpu' is down", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PreflightAsync_NoPartitionAndNoDefault_AsksForOne()
    {
        var commands = StandIn(sinfo: "printf 'gpu|up\\n'");

        var e = await Assert.ThrowsAsync<ExperimentException>(() => SlurmExecutor.PreflightAsync(new ExecutorOptions("slurm"), null, commands));

        Assert.Contains("no default partition", e.Message, StringComparison.Ordinal);
        Assert.Contains("--slurm-partition", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PreflightAsync_PartitionUpAndJobDirectoryWritable_Passes()
    {
        var commands = StandIn(sinfo: "printf 'debug*|up\\ngpu|up\\n'");

        await SlurmExecutor.PreflightAsync(new ExecutorOptions("slurm", Partition: "gpu"), Path.Combine(_directory, "jobs"), commands);

        Assert.True(Directory.Exists(Path.Combine(_directory, "jobs")));
    }

    [Fact]
    public async Task RunAsync_NodeCannotUseTheDevice_WorkerFailureNotTheCandidatesOutcome()
    {
        var job = Job();
        var answer = Path.Combine(_directory, "answer.json");
        EvaluationResult.Failure(job.CandidateId, job.Dataset, job.Config, FailureCategories.DeviceUnavailable, "CUDA is not available").WriteAtomically(answer);
        var log = new SlurmJobLog(Path.Combine(_directory, "slurm-jobs.jsonl"));
        using var executor = new SlurmExecutor(new ExecutorOptions("slurm", PollSeconds: 0.1), log, "run", commands: Cluster(answer, "7|COMPLETED|None", "JobId=7 JobState=COMPLETED ExitCode=0:0"));

        var result = await executor.RunAsync(job, Limits);

        Assert.Equal(FailureCategories.WorkerFailure, result.FailureCategory);
        Assert.Contains("cannot use device cpu (CUDA is not available)", result.FailureMessage, StringComparison.Ordinal);
        Assert.Equal([new SlurmJobEntry(job.CandidateId, "7", "COMPLETED")], log.Jobs());
    }

    [Fact]
    public async Task RunAsync_OpenJobSlurmForgotWithItsResultThere_TakesTheResultWithoutSubmitting()
    {
        var job = Job();
        var log = new SlurmJobLog(Path.Combine(_directory, "slurm-jobs.jsonl"));
        log.Submitted(job.CandidateId, "3", 1);
        Ok(job).WriteAtomically(job.ResultPath);
        var say = new List<string>();
        // sbatch would fail the test: nothing may be submitted.
        using var executor = new SlurmExecutor(new ExecutorOptions("slurm", PollSeconds: 0.1), log, "run", say.Add, Cluster(null, "", "", sbatch: "exit 99"));

        var result = await executor.RunAsync(job, Limits);

        Assert.Equal(("ok", 0.5), (result.Status, result.BestValidationAccuracy));
        Assert.Equal(0, executor.JobsSubmitted);
        Assert.Contains(say, l => l.Contains("re-attached to Slurm job 3", StringComparison.Ordinal));
        Assert.Empty(log.Open());
    }

    [Fact]
    public async Task RunAsync_OpenJobLost_SubmittedAgain()
    {
        var job = Job();
        var answer = Path.Combine(_directory, "answer.json");
        Ok(job).WriteAtomically(answer);
        var log = new SlurmJobLog(Path.Combine(_directory, "slurm-jobs.jsonl"));
        log.Submitted(job.CandidateId, "3", 1);
        var say = new List<string>();
        // squeue knows only job 8 (the new one); job 3 is gone and left no result.
        using var executor = new SlurmExecutor(new ExecutorOptions("slurm", PollSeconds: 0.1), log, "run", say.Add, Cluster(answer, "8|COMPLETED|None", "JobId=8 JobState=COMPLETED ExitCode=0:0", jobId: "8"));

        var result = await executor.RunAsync(job, Limits);

        Assert.Equal("ok", result.Status);
        Assert.Equal(1, executor.JobsSubmitted);
        Assert.Contains(say, l => l.Contains("Slurm no longer knows job 3", StringComparison.Ordinal));
        Assert.Equal(["UNKNOWN", "COMPLETED"], log.Jobs().Select(j => j.State));
        Assert.Equal(2, log.Attempts(job.CandidateId));
    }

    [Fact]
    public async Task RunAsync_SbatchRefuses_WorkerFailureNamingSbatchAndItsOutput()
    {
        var job = Job();
        var log = new SlurmJobLog(Path.Combine(_directory, "slurm-jobs.jsonl"));
        using var executor = new SlurmExecutor(new ExecutorOptions("slurm"), log, "run",
            commands: Cluster(null, "", "", sbatch: "echo 'sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified' >&2; exit 1"));

        var result = await executor.RunAsync(job, Limits);

        Assert.Equal(FailureCategories.WorkerFailure, result.FailureCategory);
        Assert.Contains("the job could not be submitted: `sbatch --parsable", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("exited with code 1: sbatch: error: Batch job submission failed: Invalid account", result.FailureMessage, StringComparison.Ordinal);
        Assert.Empty(log.Jobs());
    }

    private static EvaluationResult Ok(WorkerJob job) => new()
    {
        CandidateId = job.CandidateId, Dataset = job.Dataset, Config = job.Config, Status = "ok", BestValidationAccuracy = 0.5, TestAccuracy = 0.4,
    };

    /// <summary>
    /// Stand-in Slurm that accepts every job: sbatch copies <paramref name="answer"/> (when given) to the job's result path
    /// and prints <paramref name="jobId"/>; squeue and scontrol print what they are given.
    /// </summary>
    private SlurmCommands Cluster(string? answer, string squeue, string scontrol, string? sbatch = null, string jobId = "7")
    {
        var copy = answer is null ? string.Empty : $"for last; do :; done; cp '{answer}' \"${{last%.sbatch}}.json\"; ";
        return Commands(
            ("sbatch", sbatch ?? $"{copy}echo {jobId}"),
            ("squeue", $"printf '%s\\n' '{squeue}'"),
            ("scontrol", $"echo '{scontrol}'"));
    }

    /// <summary>Stand-in Slurm commands: sbatch --version answers, sinfo runs <paramref name="sinfo"/>.</summary>
    private SlurmCommands StandIn(string sinfo) => Commands(("sbatch", "echo 'slurm 22.05.8'"), ("sinfo", sinfo));

    private SlurmCommands Commands(params (string Name, string Body)[] commands)
    {
        var bin = Path.Combine(_directory, "bin");
        Directory.CreateDirectory(bin);
        foreach (var (name, body) in commands)
        {
            var path = Path.Combine(bin, name);
            File.WriteAllText(path, $"#!/bin/sh\n{body}\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        return new SlurmCommands(bin);
    }

    private WorkerJob Job(int threads = 1)
    {
        var spec = ReferenceArchitectures.Get("resnet", new InputSpec(1, 28, 10));
        var config = TrainingConfig.Quick with { Threads = threads };
        return new WorkerCommand("dotnet", ["fairnad.dll"]).EvaluateJob(spec, "fashion-mnist", null, config, Path.Combine(_directory, "workers", $"{spec.Id}.json"));
    }
}
