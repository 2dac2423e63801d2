import factory
from django.contrib.auth import get_user_model

from annotate.models import Annotation, Completion, Membership, Project, Prompt
from annotate.services.users import roles_ensure
from core.roles import Roles


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    # Hashed before the insert: a post-generation set_password would never be saved.
    password = factory.django.Password("pw")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            groups = roles_ensure()
            self.groups.add(*[groups[r] for r in extracted])


def annotator(username=None, project=None, **kwargs):
    user = UserFactory(
        roles=[Roles.ANNOTATOR], **({"username": username} if username else {}), **kwargs
    )
    if project is not None:
        Membership.objects.get_or_create(project=project, user=user)
    return user


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prompt
        skip_postgeneration_save = True

    project = factory.SubFactory(ProjectFactory)
    external_id = factory.Sequence(lambda n: f"p-{n}")
    text = factory.Faker("sentence")

    @factory.post_generation
    def k(self, create, extracted, **kwargs):
        """PromptFactory(k=4) also makes completions A..D."""
        if create and extracted:
            for i in range(extracted):
                Completion.objects.create(
                    prompt=self, external_id=chr(ord("A") + i), position=i, text=f"output {i}"
                )


class AnnotationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Annotation

    prompt = factory.SubFactory(PromptFactory, k=2)
    annotator = factory.SubFactory(UserFactory)
    ranking = factory.LazyAttribute(
        lambda o: [[c.external_id] for c in o.prompt.completions.order_by("position")]
    )
