using System.Linq.Expressions;

namespace FairNad.Build.Engine;

internal sealed class TargetDefinition : ITargetDefinition
{
    public string? DescriptionText { get; private set; }

    public List<Func<Task>> Actions { get; } = [];

    public List<Target> DependsOnTargets { get; } = [];

    public List<Target> DependentForTargets { get; } = [];

    public List<Target> AfterTargets { get; } = [];

    public List<Target> BeforeTargets { get; } = [];

    public List<Target> TriggersTargets { get; } = [];

    public List<Target> TriggeredByTargets { get; } = [];

    public List<Expression<Func<bool>>> StaticConditions { get; } = [];

    public List<Expression<Func<bool>>> DynamicConditions { get; } = [];

    public List<Requirement> Requirements { get; } = [];

    public bool IsAssuredAfterFailure { get; private set; }

    public bool IsProceedAfterFailure { get; private set; }

    public bool IsUnlisted { get; private set; }

    public ITargetDefinition Description(string description)
    {
        DescriptionText = description;
        return this;
    }

    public ITargetDefinition Executes(Action action)
    {
        Actions.Add(() =>
        {
            action();
            return Task.CompletedTask;
        });
        return this;
    }

    public ITargetDefinition Executes(Func<Task> action)
    {
        Actions.Add(action);
        return this;
    }

    public ITargetDefinition DependsOn(params Target[] targets) => Add(DependsOnTargets, targets);

    public ITargetDefinition DependentFor(params Target[] targets) => Add(DependentForTargets, targets);

    public ITargetDefinition After(params Target[] targets) => Add(AfterTargets, targets);

    public ITargetDefinition Before(params Target[] targets) => Add(BeforeTargets, targets);

    public ITargetDefinition Triggers(params Target[] targets) => Add(TriggersTargets, targets);

    public ITargetDefinition TriggeredBy(params Target[] targets) => Add(TriggeredByTargets, targets);

    public ITargetDefinition OnlyWhenStatic(params Expression<Func<bool>>[] conditions)
    {
        StaticConditions.AddRange(conditions);
        return this;
    }

    public ITargetDefinition OnlyWhenDynamic(params Expression<Func<bool>>[] conditions)
    {
        DynamicConditions.AddRange(conditions);
        return this;
    }

    public ITargetDefinition Requires<T>(params Expression<Func<T?>>[] parameters)
        where T : class
    {
        foreach (var parameter in parameters)
        {
            var getter = parameter.Compile();
            Requirements.Add(new Requirement(MemberName(parameter), () => getter() is not null, IsParameter: true));
        }

        return this;
    }

    public ITargetDefinition Requires<T>(params Expression<Func<T?>>[] parameters)
        where T : struct
    {
        foreach (var parameter in parameters)
        {
            var getter = parameter.Compile();
            Requirements.Add(new Requirement(MemberName(parameter), () => getter().HasValue, IsParameter: true));
        }

        return this;
    }

    public ITargetDefinition Requires(params Expression<Func<bool>>[] conditions)
    {
        foreach (var condition in conditions)
        {
            Requirements.Add(new Requirement(ExpressionText.Of(condition), condition.Compile(), IsParameter: false));
        }

        return this;
    }

    public ITargetDefinition AssuredAfterFailure()
    {
        IsAssuredAfterFailure = true;
        return this;
    }

    public ITargetDefinition ProceedAfterFailure()
    {
        IsProceedAfterFailure = true;
        return this;
    }

    public ITargetDefinition Unlisted()
    {
        IsUnlisted = true;
        return this;
    }

    private TargetDefinition Add(List<Target> list, Target[] targets)
    {
        list.AddRange(targets);
        return this;
    }

    private static string MemberName(LambdaExpression expression)
    {
        var body = expression.Body is UnaryExpression { NodeType: ExpressionType.Convert } convert ? convert.Operand : expression.Body;
        return body is MemberExpression member ? member.Member.Name : ExpressionText.Of(expression);
    }
}

internal sealed record Requirement(string Text, Func<bool> IsMet, bool IsParameter);

internal static class ExpressionText
{
    /// <summary>Readable text for a condition, e.g. <c>IsServerBuild</c> instead of <c>value(Build).IsServerBuild</c>.</summary>
    public static string Of(LambdaExpression expression) =>
        System.Text.RegularExpressions.Regex.Replace(expression.Body.ToString(), @"value\([^)]*\)\.", string.Empty);
}
