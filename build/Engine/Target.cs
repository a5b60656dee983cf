using System.Linq.Expressions;

namespace FairNad.Build.Engine;

/// <summary>A build target, declared as a property: <c>Target Compile => _ => _.DependsOn(Restore).Executes(...)</c>.</summary>
public delegate ITargetDefinition Target(ITargetDefinition _);

/// <summary>The fluent surface a target property configures (the subset of Nuke's ITargetDefinition this project uses).</summary>
public interface ITargetDefinition
{
    ITargetDefinition Description(string description);

    ITargetDefinition Executes(Action action);

    ITargetDefinition Executes(Func<Task> action);

    /// <summary>Targets that must run (and succeed) before this one; scheduled automatically.</summary>
    ITargetDefinition DependsOn(params Target[] targets);

    /// <summary>Targets that depend on this one (the reverse of <see cref="DependsOn"/>).</summary>
    ITargetDefinition DependentFor(params Target[] targets);

    /// <summary>Ordering only: when both are scheduled, this one runs after <paramref name="targets"/>.</summary>
    ITargetDefinition After(params Target[] targets);

    /// <summary>Ordering only: when both are scheduled, this one runs before <paramref name="targets"/>.</summary>
    ITargetDefinition Before(params Target[] targets);

    /// <summary>Schedules <paramref name="targets"/> to run after this one whenever this one is scheduled.</summary>
    ITargetDefinition Triggers(params Target[] targets);

    /// <summary>This target runs after any of <paramref name="targets"/> whenever one of them is scheduled.</summary>
    ITargetDefinition TriggeredBy(params Target[] targets);

    /// <summary>Conditions evaluated before any target runs; when one is false the target and the dependencies only it needs are skipped.</summary>
    ITargetDefinition OnlyWhenStatic(params Expression<Func<bool>>[] conditions);

    /// <summary>Conditions evaluated just before the target runs; when one is false the target is skipped.</summary>
    ITargetDefinition OnlyWhenDynamic(params Expression<Func<bool>>[] conditions);

    /// <summary>Parameters that must have a value before any target runs, e.g. <c>Requires(() => Dataset)</c>.</summary>
    ITargetDefinition Requires<T>(params Expression<Func<T?>>[] parameters)
        where T : class;

    /// <summary>Value-typed parameters that must have a value before any target runs.</summary>
    ITargetDefinition Requires<T>(params Expression<Func<T?>>[] parameters)
        where T : struct;

    /// <summary>Conditions that must hold before any target runs.</summary>
    ITargetDefinition Requires(params Expression<Func<bool>>[] conditions);

    /// <summary>Run this target even when an earlier target failed.</summary>
    ITargetDefinition AssuredAfterFailure();

    /// <summary>When this target fails, keep running the targets after it.</summary>
    ITargetDefinition ProceedAfterFailure();

    /// <summary>Leave this target out of <c>--help</c>.</summary>
    ITargetDefinition Unlisted();
}

/// <summary>Where a target ended up in a run.</summary>
public enum ExecutionStatus
{
    NotRun,
    Scheduled,
    Skipped,
    Running,
    Succeeded,
    Failed,
}
